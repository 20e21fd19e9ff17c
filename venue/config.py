"""``venue run --config venue.toml``: the venue's configuration file (docs/config.md).

``load_config(path)`` reads TOML (stdlib ``tomllib``; numbers with a fraction are read as exact
Decimals, never floats) into a ``VenueConfig``: instruments, assets, fees and margin per
instrument, accounts with their API keys and initial deposits, the gateway's settings (bind,
throttle, pre-trade limits, CURVE keys) and ``data_dir``. Every problem raises ``ConfigError``
naming the key (``instruments[1].tick_size``, ``gateway.bind``...) and what to write instead;
unknown keys are refused (a typo must not silently fall back to a default).

Relative paths (``data_dir``, key files) are relative to the configuration file's directory.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from zmq.utils import z85

from clearing.config import (
    DEFAULT_ASSETS,
    Asset,
    ClearingConfig,
    RiskParams,
    Tier,
    instrument_rows,
)
from clearing.exchange import Exchange
from gateway.chaos import ChaosConfig
from gateway.curve import is_loopback
from gateway.server import GatewayConfig, GatewayServer
from journal.config import JournalConfig, parse_journal
from matching.instruments import Instrument
from venue.agents.driver import AgentsConfig
from venue.live import LiveOptions
from venue.live_config import parse_agents, parse_chaos

__all__ = ["AccountConfig", "ConfigError", "VenueConfig", "load_config", "parse_config"]

DEFAULT_BIND = "tcp://127.0.0.1:7001"
DEFAULT_DATA_DIR = "venue-data"
DEFAULT_SPIN_US = 500  # a venue process busy-polls this long after traffic (GatewayConfig)
MAX_ACCOUNT = 1_000_000  # Exchange(max_account=...): larger ids are rejected by the venue

TOP_KEYS = {
    "data_dir", "gateway", "assets", "risk_defaults", "instruments", "accounts", "journal",
    "agents", "chaos",
}  # fmt: skip
GATEWAY_KEYS = {
    "bind",
    "rate_per_s",
    "burst",
    "abuse_rejects",
    "max_open_orders",
    "max_notional",
    "max_msg_bytes",
    "max_batch",
    "zmtp_heartbeat_ms",
    "spin_us",
    "admin_bind",
    "admin_token",
    "curve_secret_key",
    "curve_public_key",
    "curve_allowed_clients",
}
INSTRUMENT_DECIMALS = {"tick_size", "lot_size", "multiplier", "strike"}
INSTRUMENT_KEYS = {f.name for f in fields(Instrument)} | {"risk", "mark_price"}
RISK_KEYS = {f.name for f in fields(RiskParams)}
TIER_FIELDS = ("notional_floor", "im_ppm", "mm_ppm")
TIER_KEYS = set(TIER_FIELDS)
ACCOUNT_KEYS = {"id", "api_keys", "deposits"}


class ConfigError(ValueError):
    """A configuration problem: the message names the key and what to fix."""


@dataclass(frozen=True)
class AccountConfig:
    """An account: its id, the API keys that log on to it, and what is deposited at start."""

    id: int
    api_keys: tuple[str, ...]
    deposits: dict[str, Decimal] = field(default_factory=dict)  # asset code -> amount


@dataclass(frozen=True)
class VenueConfig:
    """Everything ``venue run`` needs; build the venue with ``build_server``."""

    instruments: tuple[Instrument, ...]
    clearing: ClearingConfig
    accounts: tuple[AccountConfig, ...]
    gateway: GatewayConfig
    bind: str = DEFAULT_BIND
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    marks: dict[int, int] = field(default_factory=dict)  # instrument id -> mark price in ticks
    journal: JournalConfig = field(default_factory=JournalConfig)  # docs/durability.md
    agents: AgentsConfig | None = None  # [agents]: background agents (docs/live-market.md)
    chaos: ChaosConfig | None = None  # [chaos]
    admin_bind: str | None = "auto"  # gateway.admin_bind (auto: order port + 3; "": none)
    admin_token: str | None = None  # gateway.admin_token (None: a fresh one per start)

    def live_options(self, cli: LiveOptions) -> LiveOptions:
        """The command line's live-market options completed by this file's tables."""
        return replace(
            cli,
            agents=self.agents if self.agents is not None else cli.agents,
            chaos=self.chaos if self.chaos is not None else cli.chaos,
            admin_bind=self.admin_bind if cli.admin_bind == "auto" else cli.admin_bind,
            admin_token=self.admin_token or cli.admin_token,
        )

    def build_exchange(self) -> Exchange:
        """The exchange with the instruments, funded accounts and initial marks."""
        ex = Exchange(self.instruments, self.clearing, keep_ledger=False, max_account=MAX_ACCOUNT)
        transfer = 0
        assets = {a.code: a for a in self.clearing.assets}
        for acct in self.accounts:
            for code, amount in acct.deposits.items():
                transfer += 1
                ex.deposit(acct.id, code, assets[code].to_units(amount), transfer)
        for iid, ticks in self.marks.items():
            ex.set_mark(iid, ticks)
        return ex

    def build_server(self) -> GatewayServer:
        """A gateway on ``build_exchange()`` (not yet bound); creates ``data_dir``."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return GatewayServer(self.build_exchange(), self.gateway)


def load_config(path: str | Path) -> VenueConfig:
    """Read and validate a TOML configuration file. ``ConfigError`` on any problem."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            doc = tomllib.load(f, parse_float=Decimal)
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such configuration file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    try:
        return parse_config(doc, base=p.resolve().parent)
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from None


# --- the parts -------------------------------------------------------------------------------
def parse_config(doc: dict[str, Any], base: Path = Path()) -> VenueConfig:
    """A parsed TOML document as a ``VenueConfig``; relative paths are taken from ``base``."""
    _known(doc, TOP_KEYS, "the top level")
    assets = _assets(doc.get("assets"))
    default = _risk(_table(doc, "risk_defaults", "risk_defaults"), "risk_defaults", RiskParams())
    instruments, risk, marks = _instruments(doc.get("instruments"), assets, default)
    clearing = ClearingConfig(assets=assets, risk=risk, default=default)
    try:  # every money factor exact, every asset known: the clearing tables' own check
        instrument_rows(clearing, instruments)
    except ValueError as e:
        raise ConfigError(f"instruments: {e}") from None
    accounts = _accounts(doc.get("accounts"), assets)
    gw = _table(doc, "gateway", "gateway")
    _known(gw, GATEWAY_KEYS, "[gateway]")
    bind = _str(gw, "bind", "gateway.bind", DEFAULT_BIND)
    gateway = _gateway(gw, accounts, base)
    if gateway.curve_secret_key is None and not is_loopback(bind):
        raise ConfigError(
            f"gateway.bind = {bind!r} is not a loopback endpoint: without CURVE the venue binds "
            "to loopback only (tcp://127.0.0.1:PORT). To serve other machines set "
            "gateway.curve_secret_key and gateway.curve_allowed_clients"
        )
    data_dir = Path(_str(doc, "data_dir", "data_dir", DEFAULT_DATA_DIR))
    try:
        journal = parse_journal(_table(doc, "journal", "journal"))
        agents = parse_agents(_table(doc, "agents", "agents")) if "agents" in doc else None
        chaos = parse_chaos(_table(doc, "chaos", "chaos"), base) if "chaos" in doc else None
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if agents is not None:
        known = {i.symbol for i in instruments}
        for spec in agents.instruments:
            if spec.symbol not in known:
                raise ConfigError(f"agents.instruments: {spec.symbol!r} is not an instrument "
                                  f"of this venue ({', '.join(sorted(known))})")  # fmt: skip
    admin_bind = _str(gw, "admin_bind", "gateway.admin_bind", "auto")
    if admin_bind and admin_bind != "auto" and not is_loopback(admin_bind):
        raise ConfigError(f"gateway.admin_bind = {admin_bind!r}: the admin socket binds to "
                          "loopback only (tcp://127.0.0.1:PORT); \"\" for none")  # fmt: skip
    admin_token = gw.get("admin_token")
    if admin_token is not None and (not isinstance(admin_token, str) or len(admin_token) < 16):
        raise ConfigError("gateway.admin_token: a string of at least 16 characters (leave it "
                          "out: venue run writes a fresh one to data_dir/admin.token)")  # fmt: skip
    return VenueConfig(
        instruments=tuple(instruments),
        clearing=clearing,
        accounts=tuple(accounts),
        gateway=gateway,
        bind=bind,
        data_dir=data_dir if data_dir.is_absolute() else base / data_dir,
        marks=marks,
        journal=journal,
        agents=agents,
        chaos=chaos,
        admin_bind=admin_bind or None,
        admin_token=admin_token,
    )


def _assets(raw: Any) -> tuple[Asset, ...]:
    if raw is None:
        return DEFAULT_ASSETS
    if not isinstance(raw, list) or not raw:
        raise ConfigError("assets: write one [[assets]] table per asset (code, scale)")
    out: list[Asset] = []
    for k, t in enumerate(raw):
        where = f"assets[{k}]"
        if not isinstance(t, dict):
            raise ConfigError(f"{where}: expected a table with code and scale")
        _known(t, {"code", "scale"}, where)
        code = _str(t, "code", f"{where}.code")
        scale = _int(t, "scale", f"{where}.scale", lo=0, hi=18)
        if any(a.code == code for a in out):
            raise ConfigError(f"{where}.code: asset {code!r} is defined twice")
        out.append(Asset(code, scale))
    return tuple(out)


def _risk(raw: dict[str, Any], where: str, base: RiskParams) -> RiskParams:
    _known(raw, RISK_KEYS, where)
    kw: dict[str, Any] = {}
    for name in RISK_KEYS - {"tiers"}:
        if name in raw:
            kw[name] = _int(raw, name, f"{where}.{name}")
    if "tiers" in raw:
        tiers = raw["tiers"]
        if not isinstance(tiers, list):
            raise ConfigError(f"{where}.tiers: a list of {{notional_floor, im_ppm, mm_ppm}}")
        out = []
        for k, t in enumerate(tiers):
            tw = f"{where}.tiers[{k}]"
            if not isinstance(t, dict):
                raise ConfigError(f"{tw}: expected a table {{notional_floor, im_ppm, mm_ppm}}")
            _known(t, TIER_KEYS, tw)
            out.append(Tier(*(_int(t, n, f"{tw}.{n}") for n in TIER_FIELDS)))
        kw["tiers"] = tuple(out)
    params = replace(base, **kw)
    problems = params.problems()
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return params


def _instruments(
    raw: Any, assets: tuple[Asset, ...], default: RiskParams
) -> tuple[list[Instrument], dict[int, RiskParams], dict[int, int]]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("instruments: at least one [[instruments]] table is required")
    insts: list[Instrument] = []
    risk: dict[int, RiskParams] = {}
    marks: dict[int, int] = {}
    codes = {a.code for a in assets}
    for k, t in enumerate(raw):
        where = f"instruments[{k}]"
        if not isinstance(t, dict):
            raise ConfigError(f"{where}: expected a table")
        _known(t, INSTRUMENT_KEYS, where)
        where = f"instruments[{k}] ({t.get('symbol', '?')})"
        kw: dict[str, Any] = {}
        for f in fields(Instrument):
            if f.name not in t:
                continue
            key = f"{where}.{f.name}"
            if f.name in INSTRUMENT_DECIMALS:
                kw[f.name] = _decimal(t, f.name, key)
            elif f.name == "allow_nonpositive_price":
                kw[f.name] = _bool(t, f.name, key)
            elif f.type == "int":
                kw[f.name] = _int(t, f.name, key)
            else:
                kw[f.name] = _str(t, f.name, key)
        for need in ("id", "symbol"):
            if need not in kw:
                raise ConfigError(f"{where}.{need}: required")
        for name in ("base_asset", "quote_asset", "settlement_asset"):
            code = kw.get(name, "")
            if code and code not in codes:
                raise ConfigError(
                    f"{where}.{name}: asset {code!r} is not configured (assets: {sorted(codes)})"
                )
        try:
            inst = Instrument(**kw)
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from None
        if any(i.id == inst.id for i in insts):
            raise ConfigError(f"{where}.id: id {inst.id} is used twice")
        if any(i.symbol == inst.symbol for i in insts):
            raise ConfigError(f"{where}.symbol: {inst.symbol!r} is used twice")
        if "risk" in t:
            risk[inst.id] = _risk(_table(t, "risk", f"{where}.risk"), f"{where}.risk", default)
        if "mark_price" in t:
            price = _decimal(t, "mark_price", f"{where}.mark_price")
            try:
                marks[inst.id] = inst.price_to_ticks(price)
            except ValueError as e:
                raise ConfigError(f"{where}.mark_price: {e}") from None
        insts.append(inst)
    ids = sorted(i.id for i in insts)
    if ids != list(range(len(ids))):
        raise ConfigError(f"instruments: ids must be 0, 1, 2... without gaps, not {ids}")
    return sorted(insts, key=lambda i: i.id), risk, marks


def _accounts(raw: Any, assets: tuple[Asset, ...]) -> list[AccountConfig]:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ConfigError("accounts: write one [[accounts]] table per account")
    by_code = {a.code: a for a in assets}
    out: list[AccountConfig] = []
    keys: set[str] = set()
    for k, t in enumerate(raw):
        where = f"accounts[{k}]"
        if not isinstance(t, dict):
            raise ConfigError(f"{where}: expected a table with id, api_keys and deposits")
        _known(t, ACCOUNT_KEYS, where)
        acct = _int(t, "id", f"{where}.id", lo=1, hi=MAX_ACCOUNT - 1)
        if any(a.id == acct for a in out):
            raise ConfigError(f"{where}.id: account {acct} is defined twice")
        api = t.get("api_keys", [])
        if not isinstance(api, list) or not all(isinstance(x, str) and x for x in api):
            raise ConfigError(f"{where}.api_keys: a list of non-empty strings")
        for key in api:
            if key in keys:
                raise ConfigError(f"{where}.api_keys: key {key!r} belongs to two accounts")
            keys.add(key)
        deposits: dict[str, Decimal] = {}
        dep = _table(t, "deposits", f"{where}.deposits")
        for code in dep:
            dk = f"{where}.deposits.{code}"
            if code not in by_code:
                raise ConfigError(f"{dk}: asset {code!r} is not configured ({sorted(by_code)})")
            amount = _decimal(dep, code, dk)
            if amount < 0:
                raise ConfigError(f"{dk}: a deposit must be >= 0, not {amount}")
            try:
                by_code[code].to_units(amount)
            except ValueError as e:
                raise ConfigError(f"{dk}: {e}") from None
            deposits[code] = amount
        out.append(AccountConfig(acct, tuple(api), deposits))
    return out


def _gateway(gw: dict[str, Any], accounts: list[AccountConfig], base: Path) -> GatewayConfig:
    d = GatewayConfig()
    kw: dict[str, Any] = {}
    if "rate_per_s" in gw:
        rate = _decimal(gw, "rate_per_s", "gateway.rate_per_s")
        if rate <= 0:
            raise ConfigError(f"gateway.rate_per_s: must be above zero, not {rate}")
        kw["rate_per_s"] = float(rate)
    for name, lo in (
        ("burst", 1),
        ("abuse_rejects", 1),
        ("max_open_orders", 0),
        ("max_notional", 0),
        ("max_msg_bytes", 256),
        ("max_batch", 1),
        ("zmtp_heartbeat_ms", 1),
        ("spin_us", 0),
    ):
        if name in gw:
            kw[name] = _int(gw, name, f"gateway.{name}", lo=lo)
    secret = public = None
    if "curve_secret_key" in gw:
        secret = _key(gw["curve_secret_key"], "gateway.curve_secret_key", base, secret=True)
        public = zmq.curve_public(secret)
    if "curve_public_key" in gw:
        if secret is None:
            raise ConfigError("gateway.curve_public_key: set gateway.curve_secret_key too")
        given = _key(gw["curve_public_key"], "gateway.curve_public_key", base)
        if given != public:
            raise ConfigError(
                "gateway.curve_public_key: not the public key of gateway.curve_secret_key "
                "(leave it out: it is derived from the secret key)"
            )
    allowed: list[bytes] = []
    raw = gw.get("curve_allowed_clients", [])
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ConfigError(
            "gateway.curve_allowed_clients: a list of z85 public keys, public key files "
            "(.key) or directories of them"
        )
    for k, entry in enumerate(raw):
        allowed.extend(_client_keys(entry, f"gateway.curve_allowed_clients[{k}]", base))
    if secret is not None and not allowed:
        raise ConfigError(
            "gateway.curve_allowed_clients: with CURVE on, list the public keys of the clients "
            "allowed to connect (none would get in)"
        )
    if allowed and secret is None:
        raise ConfigError("gateway.curve_allowed_clients: set gateway.curve_secret_key too")
    api = {key: a.id for a in accounts for key in a.api_keys}
    kw.setdefault("spin_us", DEFAULT_SPIN_US)
    return GatewayConfig(
        api_keys=api,
        rate_per_s=kw.pop("rate_per_s", d.rate_per_s),
        curve_secret_key=secret,
        curve_public_key=public,
        curve_allowed_clients=tuple(dict.fromkeys(allowed)),
        **kw,
    )


# --- keys ------------------------------------------------------------------------------------
def _z85_key(text: str) -> bytes | None:
    if len(text) != 40:
        return None
    try:
        z85.decode(text.encode("ascii"))
    except (ValueError, KeyError, UnicodeEncodeError):
        return None
    return text.encode("ascii")


def _key(raw: Any, where: str, base: Path, secret: bool = False) -> bytes:
    """A z85 key written inline, or read from a certificate file (zmq.auth format)."""
    if not isinstance(raw, str) or not raw:
        raise ConfigError(f"{where}: a z85 key (40 characters) or the path of a key file")
    path = Path(raw) if Path(raw).is_absolute() else base / raw
    inline = _z85_key(raw)
    if inline is not None and not path.exists():
        return inline
    if not path.is_file():
        raise ConfigError(
            f"{where}: {raw!r} is neither a z85 key (40 characters) nor an existing key file "
            f"({path}); make one with zmq.auth.create_certificates(dir, name)"
        )
    try:
        pub, sec = zmq.auth.load_certificate(path)
    except (ValueError, OSError) as e:
        raise ConfigError(f"{where}: cannot read key file {path}: {e}") from None
    if secret:
        if sec is None:
            raise ConfigError(
                f"{where}: {path} holds no secret key: name the .key_secret file "
                "that zmq.auth.create_certificates wrote"
            )
        return sec
    return pub


def _client_keys(entry: str, where: str, base: Path) -> list[bytes]:
    path = Path(entry) if Path(entry).is_absolute() else base / entry
    if _z85_key(entry) is None and path.is_dir():
        keys = sorted(zmq.auth.load_certificates(path))
        if not keys:
            raise ConfigError(f"{where}: directory {path} holds no .key files")
        return keys
    return [_key(entry, where, base)]


# --- typed getters ---------------------------------------------------------------------------
def _known(t: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(t) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(allowed))})"
        )


def _table(t: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    v = t.get(name, {})
    if not isinstance(v, dict):
        raise ConfigError(f"{where}: expected a table ([{where}] or {{...}})")
    return v


def _int(
    t: dict[str, Any], name: str, where: str, lo: int | None = None, hi: int | None = None
) -> int:
    v = t.get(name)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"{where}: expected a whole number, not {v!r}")
    if lo is not None and v < lo:
        raise ConfigError(f"{where}: must be >= {lo}, not {v}")
    if hi is not None and v > hi:
        raise ConfigError(f"{where}: must be <= {hi}, not {v}")
    return v


def _decimal(t: dict[str, Any], name: str, where: str) -> Decimal:
    v = t.get(name)
    if isinstance(v, bool):
        raise ConfigError(f"{where}: expected a number, not {v!r}")
    if isinstance(v, Decimal | int):
        d = Decimal(v)
    elif isinstance(v, str):
        try:
            d = Decimal(v)
        except ArithmeticError:
            raise ConfigError(f'{where}: {v!r} is not a number (write e.g. "0.01")') from None
    else:
        raise ConfigError(f'{where}: expected a number such as 0.01 or "0.01", not {v!r}')
    if not d.is_finite():
        raise ConfigError(f"{where}: must be a finite number, not {v!r}")
    return d


def _str(t: dict[str, Any], name: str, where: str, default: str | None = None) -> str:
    if name not in t and default is not None:
        return default
    v = t.get(name)
    if not isinstance(v, str) or not v:
        raise ConfigError(f"{where}: expected a non-empty string, not {v!r}")
    return v


def _bool(t: dict[str, Any], name: str, where: str) -> bool:
    v = t.get(name)
    if not isinstance(v, bool):
        raise ConfigError(f"{where}: expected true or false, not {v!r}")
    return v
