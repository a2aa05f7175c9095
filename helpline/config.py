"""Settings: one frozen object, read once from the environment at start-up.

Every setting has a documented default (README, "Configuration") and is read from a
`HELPLINE_*` variable, except `REDIS_URL`, whose name is the common convention. A bad
value fails at start with an error naming the variable, never mid-conversation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from helpline.domain.hours import parse_hours

T = TypeVar("T")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


FANOUT_MODES = ("local", "redis")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    # None means: start (or reuse) the embedded Redis in data_dir.
    redis_url: str | None = None
    data_dir: Path = Path("var")
    key_prefix: str = "hl:"
    # Browser origins that may open a socket; None: this server's own origin
    # (HELPLINE_PUBLIC_ORIGIN if set, else http://HOST:PORT and http://localhost:PORT,
    # following --host and --port).
    allowed_origins: tuple[str, ...] | None = None
    # "local": one process delivers in memory; "redis": several processes share events.
    fanout: str = "local"
    redis_max_connections: int = 64
    max_conversations_per_counsellor: int = 3
    max_body_bytes: int = 16 * 1024 + 512  # a 16 KiB padded plaintext and its envelope
    max_frame_bytes: int = 64 * 1024
    session_ttl_seconds: int = 12 * 3600
    login_max_failures: int = 5
    login_lock_seconds: int = 15 * 60
    # Staff password scrypt cost as log2(N); 17 (N=2^17, r=8, p=1: OWASP's current
    # minimum) costs 128 MiB and about 0.3 s per hash. Lower only for tests.
    scrypt_log2_n: int = 17
    history_page_size: int = 200
    log_level: str = "INFO"
    transports: tuple[str, ...] = ("websocket", "polling")
    # Where `helpline keys` keeps private key files (None: <data_dir>/keys).
    keys_dir: Path | None = None
    key_period_days: int = 7
    # The admin screens warn when the current team key's statement ends this soon.
    key_warn_days: int = 2
    police_unit: str = "police-unit"
    # How long a staff statement vouches for a device (`keys grant` renews it), and how
    # long the police key statement is valid (at most 366 days: a yearly re-import).
    staff_statement_days: int = 90
    police_statement_days: int = 365
    retention_days: int = 30
    police_retention_days: int = 365
    idle_hours: int = 24
    # How often the retention jobs run (purge, idle timeout, roll-up, key retirement).
    job_interval_seconds: float = 60.0
    jobs_enabled: bool = True
    opening_hours: str = "always"
    holidays: str = ""
    default_language: str = "nl"
    language_hold_seconds: int = 60
    # At most one `overview` push per this many seconds (it lists every live chat).
    overview_push_seconds: float = 1.0
    # A staff socket counts as online this long after its process last renewed it
    # (renewed every third of it): a crashed process's sockets go offline within it.
    presence_ttl_seconds: float = 30.0
    invite_ttl_seconds: int = 7 * 24 * 3600
    # The secret behind return-code look-ups; None: <data_dir>/return-code.key.
    return_code_key_file: Path | None = None
    # The Ed25519 key that signs audit checkpoints; None: <data_dir>/audit-signing.key.
    audit_key_file: Path | None = None
    # Where signed checkpoints are appended (JSON lines); None:
    # <data_dir>/audit-checkpoints.jsonl. Both live outside Redis on purpose.
    audit_checkpoint_file: Path | None = None
    # -- the young person's widget (transport/widget.py) --------------------------------
    # The origin the widget's code is served from (the iframe and /chat's scripts);
    # None: this server's own origin. A separate static origin means a compromised chat
    # server cannot swap the code that holds the keys (docs/security.md).
    widget_origin: str | None = None
    # This server's own origin as browsers reach it ("https://chat.example.nl"); None:
    # as the request says. Behind a TLS proxy the request says http://, and the pages
    # would then name http:// and ws:// sources that an https:// page may not use.
    public_origin: str | None = None
    # Host-page origins that may frame the widget (CSP frame-ancestors) and exchange
    # postMessage with it; empty: only this server's own pages (/demo).
    widget_hosts: tuple[str, ...] = ()
    # The organisation signing-key fingerprint /chat pins when no snippet gives one.
    pinned_fingerprint: str = ""
    # Where quick exit leaves to, with location.replace. A search engine's front page:
    # in everyone's history anyway, it loads fast everywhere, and shows nothing about
    # where the visitor came from (no referrer is sent).
    exit_url: str = "https://www.google.com/"
    # Serve /demo, a host page with the snippet (`helpline serve --demo` turns it on).
    widget_demo: bool = False

    @property
    def resolved_keys_dir(self) -> Path:
        return self.keys_dir if self.keys_dir is not None else self.data_dir / "keys"

    @property
    def resolved_audit_key_file(self) -> Path:
        return self.audit_key_file or self.data_dir / "audit-signing.key"

    @property
    def resolved_audit_checkpoint_file(self) -> Path:
        return self.audit_checkpoint_file or self.data_dir / "audit-checkpoints.jsonl"

    @property
    def origins(self) -> tuple[str, ...]:
        if self.allowed_origins is not None:
            return self.allowed_origins
        if self.public_origin is not None:
            return (self.public_origin,)
        return (f"http://{self.host}:{self.port}", f"http://localhost:{self.port}")

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _get(env: Mapping[str, str], key: str, cast: Callable[[str], T], default: T) -> T:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        return cast(raw)
    except ValueError as exc:
        raise ConfigError(f"{key}={raw!r} is not valid: {exc}") from None


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive whole number")
    return value


def _at_most_a_year(raw: str) -> int:
    value = _positive_int(raw)
    if value > 366:
        raise ValueError("at most 366 days: the police key is re-imported every year")
    return value


def _hours(raw: str) -> str:
    parse_hours(raw)  # raises ValueError with what is wrong
    return raw


def _holidays(raw: str) -> str:
    parse_hours("always", raw)
    return raw


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError("must be more than 0")
    return value


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0:
        raise ValueError("must be 0 or more")
    return value


def _on_off(raw: str) -> bool:
    if raw not in ("on", "off"):
        raise ValueError("must be on or off")
    return raw == "on"


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError("must be a port number from 0 to 65535")
    return value


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _origins(raw: str) -> tuple[str, ...]:
    origins = _csv(raw)
    for origin in origins:
        if origin == "*" or not origin.startswith(("http://", "https://")):
            raise ValueError("each origin must be an explicit http:// or https:// origin")
        if origin.endswith("/"):
            raise ValueError(f"origin {origin!r} must not end with a slash")
    return origins


def parse_origin(raw: str) -> str:
    """One explicit http(s) origin, no slash at the end; ValueError otherwise."""
    origins = _origins(raw)
    if len(origins) != 1 or any(c in origins[0] for c in " \"'<>;"):
        raise ValueError("must be one http:// or https:// origin")
    return origins[0]


_origin = parse_origin


def _exit_url(raw: str) -> str:
    if not raw.startswith(("https://", "http://")) or any(c in raw for c in " \"'<>"):
        raise ValueError("must be an http:// or https:// address")
    return raw


def _fingerprint(raw: str) -> str:
    # Written into /chat as is, and the widget takes only 64 lowercase hex digits: so
    # normalise here (colons, dashes, capitals as people copy them) or refuse at start.
    hexed = raw.replace(":", "").replace("-", "").lower()
    if len(hexed) != 64 or any(c not in "0123456789abcdef" for c in hexed):
        raise ValueError("must be a key fingerprint: 64 hex digits, as `helpline keys show` "
                         "prints it")
    return hexed


def _fanout(raw: str) -> str:
    if raw not in FANOUT_MODES:
        raise ValueError(f"must be one of {', '.join(FANOUT_MODES)}")
    return raw


def _transports(raw: str) -> tuple[str, ...]:
    values = _csv(raw)
    if not values or any(v not in ("websocket", "polling") for v in values):
        raise ValueError("must be websocket, polling or both, comma-separated")
    return values


def _prefix(raw: str) -> str:
    if not raw.replace(":", "").replace("-", "").replace("_", "").isalnum():
        raise ValueError("use letters, digits, '-', '_' and ':' only")
    return raw


def _identifier(raw: str) -> str:
    if not raw.replace("-", "").replace("_", "").replace(".", "").isalnum() or len(raw) > 64:
        raise ValueError("use up to 64 letters, digits, '.', '-' and '_'")
    return raw


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from `env` (default: the process environment)."""
    env = os.environ if env is None else env
    d = Settings()
    host = _get(env, "HELPLINE_HOST", str, d.host)
    port = _get(env, "HELPLINE_PORT", _port, d.port)
    origins_raw = env.get("HELPLINE_ALLOWED_ORIGINS")
    allowed: tuple[str, ...] | None = None
    if origins_raw is not None:
        try:
            allowed = _origins(origins_raw)
        except ValueError as exc:
            raise ConfigError(
                f"HELPLINE_ALLOWED_ORIGINS={origins_raw!r} is not valid: {exc}"
            ) from None
    log2n = _get(env, "HELPLINE_SCRYPT_LOG2_N", _positive_int, d.scrypt_log2_n)
    if not 10 <= log2n <= 20:
        raise ConfigError("HELPLINE_SCRYPT_LOG2_N must be between 10 and 20")
    return Settings(
        host=host,
        port=port,
        redis_url=env.get("REDIS_URL") or None,
        data_dir=Path(_get(env, "HELPLINE_DATA_DIR", str, str(d.data_dir))),
        key_prefix=_get(env, "HELPLINE_KEY_PREFIX", _prefix, d.key_prefix),
        allowed_origins=allowed,
        fanout=_get(env, "HELPLINE_FANOUT", _fanout, d.fanout),
        redis_max_connections=_get(
            env, "HELPLINE_REDIS_MAX_CONNECTIONS", _positive_int, d.redis_max_connections
        ),
        max_conversations_per_counsellor=_get(
            env, "HELPLINE_MAX_CONVERSATIONS", _positive_int, d.max_conversations_per_counsellor
        ),
        max_body_bytes=_get(env, "HELPLINE_MAX_BODY_BYTES", _positive_int, d.max_body_bytes),
        max_frame_bytes=_get(env, "HELPLINE_MAX_FRAME_BYTES", _positive_int, d.max_frame_bytes),
        session_ttl_seconds=_get(
            env, "HELPLINE_SESSION_TTL_SECONDS", _positive_int, d.session_ttl_seconds
        ),
        login_max_failures=_get(
            env, "HELPLINE_LOGIN_MAX_FAILURES", _positive_int, d.login_max_failures
        ),
        login_lock_seconds=_get(
            env, "HELPLINE_LOGIN_LOCK_SECONDS", _positive_int, d.login_lock_seconds
        ),
        scrypt_log2_n=log2n,
        history_page_size=_get(env, "HELPLINE_HISTORY_PAGE_SIZE", _positive_int, 200),
        log_level=_get(env, "HELPLINE_LOG_LEVEL", str, d.log_level).upper(),
        transports=_get(env, "HELPLINE_TRANSPORTS", _transports, d.transports),
        keys_dir=Path(env["HELPLINE_KEYS_DIR"]) if env.get("HELPLINE_KEYS_DIR") else None,
        key_period_days=_get(env, "HELPLINE_KEY_PERIOD_DAYS", _positive_int, d.key_period_days),
        key_warn_days=_get(env, "HELPLINE_KEY_WARN_DAYS", _non_negative_int, d.key_warn_days),
        police_unit=_get(env, "HELPLINE_POLICE_UNIT", _identifier, d.police_unit),
        staff_statement_days=_get(env, "HELPLINE_STAFF_STATEMENT_DAYS", _positive_int,
                                  d.staff_statement_days),
        police_statement_days=_get(env, "HELPLINE_POLICE_STATEMENT_DAYS", _at_most_a_year,
                                   d.police_statement_days),
        retention_days=_get(env, "HELPLINE_RETENTION_DAYS", _non_negative_int,
                            d.retention_days),
        police_retention_days=_get(env, "HELPLINE_POLICE_RETENTION_DAYS", _non_negative_int,
                                   d.police_retention_days),
        idle_hours=_get(env, "HELPLINE_IDLE_HOURS", _positive_int, d.idle_hours),
        job_interval_seconds=_get(env, "HELPLINE_JOB_INTERVAL_SECONDS", _positive_float,
                                  d.job_interval_seconds),
        jobs_enabled=_get(env, "HELPLINE_JOBS", _on_off, d.jobs_enabled),
        opening_hours=_get(env, "HELPLINE_OPENING_HOURS", _hours, d.opening_hours),
        holidays=_get(env, "HELPLINE_HOLIDAYS", _holidays, d.holidays),
        default_language=_get(env, "HELPLINE_DEFAULT_LANGUAGE", _identifier,
                              d.default_language),
        overview_push_seconds=_get(env, "HELPLINE_OVERVIEW_PUSH_SECONDS",
                                   _non_negative_float, d.overview_push_seconds),
        presence_ttl_seconds=_get(env, "HELPLINE_PRESENCE_TTL_SECONDS", _positive_float,
                                  d.presence_ttl_seconds),
        language_hold_seconds=_get(env, "HELPLINE_LANGUAGE_HOLD_SECONDS", _non_negative_int,
                                   d.language_hold_seconds),
        invite_ttl_seconds=_get(env, "HELPLINE_INVITE_TTL_SECONDS", _positive_int,
                                d.invite_ttl_seconds),
        return_code_key_file=(Path(env["HELPLINE_RETURN_CODE_KEY_FILE"])
                              if env.get("HELPLINE_RETURN_CODE_KEY_FILE") else None),
        audit_key_file=(Path(env["HELPLINE_AUDIT_KEY_FILE"])
                        if env.get("HELPLINE_AUDIT_KEY_FILE") else None),
        audit_checkpoint_file=(Path(env["HELPLINE_AUDIT_CHECKPOINT_FILE"])
                               if env.get("HELPLINE_AUDIT_CHECKPOINT_FILE") else None),
        widget_origin=_get(env, "HELPLINE_WIDGET_ORIGIN", _origin, d.widget_origin),
        public_origin=_get(env, "HELPLINE_PUBLIC_ORIGIN", _origin, d.public_origin),
        widget_hosts=_get(env, "HELPLINE_WIDGET_HOSTS", _origins, d.widget_hosts),
        pinned_fingerprint=_get(env, "HELPLINE_PINNED_FINGERPRINT", _fingerprint,
                                d.pinned_fingerprint),
        exit_url=_get(env, "HELPLINE_EXIT_URL", _exit_url, d.exit_url),
        widget_demo=_get(env, "HELPLINE_WIDGET_DEMO", _on_off, d.widget_demo),
    )
