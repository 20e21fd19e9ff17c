"""CurveZMQ for the order-entry gateway: encryption, and a ZAP authenticator that lets in only
the configured client public keys.

A CURVE server socket without a ZAP handler accepts ANY client key (it only encrypts), so the
gateway never turns CURVE on without ``start_authenticator``. Without CURVE the gateway binds to
loopback only (``check_bind``): plaintext order entry never leaves the machine.

Keys are z85 text (40 characters, as ``zmq.curve_keypair()`` returns them, or as
``zmq.auth.create_certificates`` writes them into ``.key`` / ``.key_secret`` files).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

__all__ = [
    "AllowedKeys",
    "check_bind",
    "check_key",
    "enable_server",
    "is_loopback",
    "secure",
    "start_authenticator",
]

Z85_KEY_LEN = 40


def check_key(key: bytes | str, what: str) -> bytes:
    """``key`` as z85 bytes; ValueError naming ``what`` unless it is a 40-character z85 key."""
    try:
        k = key.encode("ascii") if isinstance(key, str) else bytes(key)
    except UnicodeEncodeError:
        raise ValueError(f"{what}: not a z85-encoded key") from None
    if len(k) != Z85_KEY_LEN:
        raise ValueError(f"{what}: a CURVE key is 40 z85 characters, got {len(k)}")
    try:
        z85.decode(k)
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{what}: not a z85-encoded key") from None
    return k


def is_loopback(endpoint: str) -> bool:
    """True for an endpoint that stays on this machine: inproc://, ipc://, or tcp:// on a
    loopback address (127.0.0.0/8, ::1, localhost). ``tcp://*:PORT`` is not."""
    transport, _, rest = endpoint.partition("://")
    if transport in ("inproc", "ipc"):
        return True
    if transport != "tcp" or not rest:
        return False
    host = rest.rsplit(":", 1)[0] if ":" in rest else rest
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # an interface name or '*': every (or some) address, not loopback
        return False


def check_bind(endpoint: str, curve: bool) -> None:
    """ValueError for a bind that would expose plaintext order entry beyond this machine."""
    if not curve and not is_loopback(endpoint):
        raise ValueError(
            f"refusing to bind {endpoint}: without CURVE encryption the venue binds to loopback "
            "only (tcp://127.0.0.1:PORT); to serve other machines set the CURVE server keys and "
            "the allowed client public keys (GatewayConfig.curve_secret_key, "
            "curve_allowed_clients)"
        )


class AllowedKeys:
    """ZAP credentials provider: a client key is allowed iff it is one of ``keys`` (z85)."""

    def __init__(self, keys: Iterable[bytes]) -> None:
        self.keys = frozenset(keys)

    def callback(self, domain: str, key: bytes) -> bool:
        return key in self.keys


def enable_server(sock: zmq.Socket[Any], secret: bytes | str, public: bytes | str | None) -> bytes:
    """Make ``sock`` a CURVE server (before bind). Returns its z85 public key (derived from the
    secret one when ``public`` is None; ValueError when they do not belong together)."""
    sk = check_key(secret, "curve_secret_key")
    derived = zmq.curve_public(sk)
    if public is not None and check_key(public, "curve_public_key") != derived:
        raise ValueError("curve_public_key is not the public key of curve_secret_key")
    sock.curve_server = True
    sock.curve_secretkey = sk
    sock.curve_publickey = derived
    return derived


def start_authenticator(ctx: zmq.Context[Any], allowed: Iterable[bytes]) -> ThreadAuthenticator:
    """Start a ZAP handler on ``ctx`` (one per context) that accepts CURVE clients whose public
    key is in ``allowed`` and nobody else. Stop it with ``.stop()``."""
    keys = [check_key(k, "curve_allowed_clients") for k in allowed]
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve_callback(domain="*", credentials_provider=AllowedKeys(keys))
    return auth


def secure(
    sock: zmq.Socket[Any], ctx: zmq.Context[Any], config: Any
) -> tuple[bytes, ThreadAuthenticator]:
    """CURVE server on ``sock`` with ``config``'s keys (a ``GatewayConfig``), and the ZAP
    authenticator on ``ctx`` that lets in only ``config.curve_allowed_clients``. Every key is
    checked before anything starts. Returns the server's public key and the authenticator."""
    allowed = [check_key(k, "curve_allowed_clients") for k in config.curve_allowed_clients]
    public = enable_server(sock, config.curve_secret_key, config.curve_public_key)
    return public, start_authenticator(ctx, allowed)
