"""``venue admin``: operator commands to a running venue over its admin socket (gateway/admin.py).

    venue admin status
    venue admin sessions
    venue admin kill-switch 2          # cancel account 2's orders, block all but reduce-only
    venue admin kill-switch 2 --off
    venue admin halt BTC-PERP          # or an instrument id
    venue admin halt BTC-PERP --resume
    venue admin chaos --account 1 --reply-delay-ms 20 --reply-jitter-ms 10 --reject-probability 0.05
    venue admin chaos --account 1      # all options zero: chaos off for account 1

The token comes from ``--token``, else the file ``--token-file`` (default: the one the
embedded default's ``venue run`` writes, ``var/venue-data/admin.token`` in the checkout; a venue
run with ``--config`` writes it to its ``data_dir``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.admin import DEFAULT_ADMIN_BIND, TOKEN_FILE, AdminClient, AdminReply

CHAOS_OPTIONS: tuple[tuple[str, type], ...] = (
    ("reply_delay_ms", float),
    ("reply_jitter_ms", float),
    ("reject_probability", float),
    ("rate_per_s", float),
    ("burst", int),
    ("disconnects_per_min", float),
)
DEFAULT_TOKEN_FILE = Path(__file__).resolve().parent.parent / "var" / "venue-data" / TOKEN_FILE


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``venue admin`` on the ``venue`` command's subparsers."""
    p = sub.add_parser("admin", help="operator commands to a running venue (kill switch, halt)")
    p.add_argument("--endpoint", default=DEFAULT_ADMIN_BIND, help="the venue's admin endpoint")
    p.add_argument("--token", help="the admin token (default: read from --token-file)")
    p.add_argument(
        "--token-file",
        type=Path,
        default=DEFAULT_TOKEN_FILE,
        help=f"file holding the admin token (default {DEFAULT_TOKEN_FILE})",
    )
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the venue")
    p.add_argument("--json", action="store_true", help="print the reply as JSON")
    asub = p.add_subparsers(dest="admin_cmd", required=True)
    asub.add_parser("status", help="instruments, kill switches, sessions, open orders")
    asub.add_parser("sessions", help="the logged-on sessions")
    ks = asub.add_parser("kill-switch", help="cancel an account's orders and block new ones")
    ks.add_argument("account", type=int)
    ks.add_argument("--off", action="store_true", help="lift the kill switch")
    h = asub.add_parser("halt", help="halt an instrument (or --resume it)")
    h.add_argument("instrument", help="symbol (BTC-PERP) or id")
    h.add_argument("--resume", action="store_true")
    ch = asub.add_parser("chaos", help="misbehave on purpose for one account's sessions (or all)")
    ch.add_argument("--account", type=int, default=0, help="0: every session")
    for name, kind in CHAOS_OPTIONS:
        ch.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=kind(0))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Send one admin request; exit status 0 if the venue accepted it."""
    token = args.token
    if token is None:
        try:
            token = args.token_file.read_text().strip()
        except OSError as e:
            print(
                f"venue admin: cannot read the admin token from {args.token_file} ({e}); pass "
                "--token or --token-file (venue run prints where it wrote the token)",
                file=sys.stderr,
            )
            return 2
    with AdminClient(args.endpoint, token, args.timeout) as c:
        try:
            if args.admin_cmd == "status":
                reply = c.status()
            elif args.admin_cmd == "sessions":
                reply = c.sessions()
            elif args.admin_cmd == "chaos":
                opts = {name: getattr(args, name) for name, _ in CHAOS_OPTIONS}
                reply = c.chaos(args.account, **opts)
            elif args.admin_cmd == "kill-switch":
                reply = c.kill_switch(args.account, on=not args.off)
            else:
                key: int | str = (
                    int(args.instrument) if args.instrument.isdigit() else args.instrument
                )
                reply = c.halt(key, on=not args.resume)
        except TimeoutError as e:
            print(f"venue admin: {e}", file=sys.stderr)
            return 1
    _print(reply, args.json)
    return 0 if reply.ok else 1


def _print(reply: AdminReply, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"ok": reply.ok, "text": reply.text, "data": reply.data}))
        return
    print(reply.text if reply.ok else f"refused: {reply.text}")
    data = reply.data
    if isinstance(data, list):
        for row in data:
            print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
    elif isinstance(data, dict) and "instruments" in data:
        for i in data["instruments"]:
            print(f"  {i['id']:>3}  {i['symbol']:<24} {'HALTED' if i['halted'] else 'open'}")
        print(f"  kill switches: {data['killed_accounts'] or 'none'}")
        print(f"  sessions: {data['sessions']}  open orders: {data['open_orders']}  "
              f"next seq: {data['next_seq']}")  # fmt: skip
