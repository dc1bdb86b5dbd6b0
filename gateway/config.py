"""`gateway.toml` loading with `GATEWAY_<SECTION>__<KEY>` environment overrides (INTERFACE.md)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError


@dataclass
class OrganizationConfig:
    name: str = "Mykolaiv City Council"
    edrpou: str = "00000000"
    system_id: str = ""
    system_name: str = "gateway"
    #: the letters' Writer (1207 Document/Writer, required by Order1207 v2.2) when the EDMS names none
    writer: str = ""
    writer_post: str = ""
    #: extension: refuse recipients' EDRPOU codes with a wrong check digit (false: SEV test codes)
    edrpou_check_digit: bool = True


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    max_request_bytes: int = 64 * 1024 * 1024
    #: extensions: connection limits (seconds; 0 turns a timeout off)
    header_timeout: float = 20.0
    body_timeout: float = 20.0
    min_body_rate: int = 500
    keep_alive_timeout: int = 5
    limit_concurrency: int = 1000


@dataclass
class DatabaseConfig:
    url: str = "sqlite:///gateway.db"


@dataclass
class SigningConfig:
    key: str = ""
    key_password_env: str = ""
    #: extension: a file holding the key password (development set-ups made by `gateway init`)
    key_password_file: str = ""
    tsa_url: str = ""
    default_level: str = ""
    #: extension: the signing certificate (+ chain) for key containers that do not hold it
    cert: str = ""
    #: extension: variable with the JKS key entries' password when it differs from the store's
    key_entry_password_env: str = ""
    #: extension: sign even with an expired / not yet valid certificate (a warning each start)
    allow_expired: bool = False


@dataclass
class TrustConfig:
    anchors: list[str] = field(default_factory=list)
    revocation: str = "online"
    cache_dir: str = ""
    #: extension: hosts, host:port and networks online validation may fetch from although they are
    #: loopback/private/link-local/...; public addresses are always allowed (fetchpolicy.py)
    fetch_allow: list[str] = field(default_factory=list)
    #: extension: bounds of one OCSP/CRL/AIA fetch
    fetch_timeout: float = 10.0
    fetch_max_bytes: int = 16 * 1024 * 1024
    #: extension: seconds a fetched OCSP response is reused (never past its nextUpdate)
    ocsp_fresh_seconds: float = 3600.0
    #: extension: first pause after a responder failed, doubling per failure (max 15 min)
    fetch_backoff_seconds: float = 30.0
    #: extension: folder of the imported trusted lists (`gateway trust tl`), default `trusted-lists`
    tl_dir: str = ""
    #: extension: `gateway serve` refreshes the trusted lists this often (0: never)
    tl_refresh_hours: float = 24.0
    #: extension: warn when a list's NextUpdate is this close
    tl_warning_days: float = 7.0
    #: folder of signature policy documents, each named by its policy identifier (OID)
    signature_policies: str = ""


@dataclass
class SevConfig:
    enabled: bool = False
    url: str = ""
    system_id: str = ""
    password_env: str = ""
    poll_seconds: float = 5.0
    #: the hub's wire form: "sev2" (the SEV 2.0 hub's own clients) or "wcf" (the older service)
    dialect: str = "sev2"
    #: a message the hub keeps offering that cannot be taken is set aside after this many tries
    max_offer_attempts: int = 5
    #: extension: of several instances on one database one polls the hub; its lease lasts this
    #: long unrenewed (at least 3 x poll_seconds), then another instance takes over
    poll_lease_seconds: float = 30.0


@dataclass
class TrembitaConfig:
    enabled: bool = False
    instance: str = "SEVDEIR-TEST"
    member_class: str = "GOV"
    member_code: str = ""
    subsystem: str = ""
    security_server_url: str = ""
    #: extensions (README): the X-Road userId we send; the partners' service WSDL (a file or URL;
    #: empty: the security server's metadata service); call timeout; the request size limit
    user_id: str = "gateway"
    wsdl: str = ""
    timeout: float = 30.0
    max_request_bytes: int = 32 * 1024 * 1024
    #: HTTPS with client certificates to and from the security server: our information system's
    #: certificate and key (PEM), the security server's certificate (or CA) we verify when calling
    #: it, the certificates allowed to call us, and the HTTPS listener (host:port) for /soap/trembita
    tls_cert: str = ""
    tls_key: str = ""
    server_ca: str = ""
    client_ca: str = ""
    listen: str = ""


@dataclass
class StorageConfig:
    dir: str = "storage"
    #: extension: where document bodies live: "folder" (dir, shared by all instances) or
    #: "database" (the [database] itself, small deployments; dir is then a local cache)
    backend: str = "folder"


@dataclass
class DevPkiConfig:
    """Extension: the development PKI whose CRL/OCSP/TSA services `gateway serve` runs."""

    dir: str = ""
    serve: bool = False
    port: int = 0


@dataclass
class KeysConfig:
    """Extension: the keys registry (`gateway keys`, the console's keys page)."""

    #: folder of the registry's key containers (0700; files 0600)
    dir: str = "keys/registry"
    #: the registry's master key (Fernet) sealing container passwords; default `<dir>/master.key`
    master_key_file: str = ""
    #: PKCS#11 module for `gateway keys tokens` (path, or a file name such as libsofthsm2.so)
    pkcs11_module: str = "libsofthsm2.so"


@dataclass
class ConsoleConfig:
    """Extension: the security officers' console at /console."""

    enabled: bool = True
    session_minutes: int = 480
    #: certificates and CRLs expiring within this many days are alerts
    alert_days: int = 60
    #: alerts by e-mail (off while smtp_host or mail_to is empty); each alert is mailed when it
    #: appears and again every mail_repeat_hours while it lasts
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password_env: str = ""
    mail_from: str = ""
    mail_to: list[str] = field(default_factory=list)
    mail_repeat_hours: float = 24.0
    mail_check_seconds: float = 300.0


@dataclass
class Config:
    organization: OrganizationConfig = field(default_factory=OrganizationConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    signing: SigningConfig = field(default_factory=SigningConfig)
    trust: TrustConfig = field(default_factory=TrustConfig)
    sev: SevConfig = field(default_factory=SevConfig)
    trembita: TrembitaConfig = field(default_factory=TrembitaConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    dev_pki: DevPkiConfig = field(default_factory=DevPkiConfig)
    keys: KeysConfig = field(default_factory=KeysConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    path: Path | None = None

    @property
    def base_dir(self) -> Path:
        """Relative paths in the file are relative to the file's folder."""
        return self.path.parent if self.path else Path.cwd()

    def resolve(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p


SECTIONS = {f.name for f in fields(Config) if f.name != "path"}


def _coerce(value: str, current: Any, where: str) -> Any:
    if isinstance(current, bool):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if isinstance(current, int):
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if isinstance(current, float):
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if isinstance(current, list) and where.endswith("__FETCH_ALLOW"):
        return value.replace(",", " ").split()  # host:port entries: ":" is not a separator here
    if isinstance(current, list):
        return [v for v in value.split(os.pathsep) if v]
    return value


def _apply(section_obj: Any, section: str, values: dict[str, Any]) -> None:
    known = {f.name for f in fields(section_obj)}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown setting [{section}] {key}")
        current = getattr(section_obj, key)
        if isinstance(current, bool) and not isinstance(value, bool):
            raise ConfigError(f"[{section}] {key}: expected true/false")
        if isinstance(current, list) and isinstance(value, str):
            value = [value]
        _check_type(value, current, f"[{section}] {key}")
        setattr(section_obj, key, value)


def _check_type(value: Any, current: Any, where: str) -> None:
    """A value from the file has the type of the setting's default (an int is a fine float)."""
    if isinstance(current, bool):
        return  # checked by the caller
    expected: tuple[type, ...] = (int, float) if isinstance(current, float) else (type(current),)
    if isinstance(value, bool) or not isinstance(value, expected):
        names = {int: "an integer", float: "a number", str: "a string", list: "a list"}
        wanted = names.get(type(current), type(current).__name__)
        raise ConfigError(f"{where}: expected {wanted}, got {value!r}")
    if isinstance(current, list) and not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings")


def load_config(path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Config:
    """Load the file (if given), then apply `GATEWAY_<SECTION>__<KEY>` overrides from `env`."""
    env = os.environ if env is None else env
    cfg = Config()
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {p}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {p}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: invalid TOML: {exc}") from None
        cfg.path = p.resolve()
        for section, values in data.items():
            if section not in SECTIONS or not isinstance(values, dict):
                raise ConfigError(f"{p}: unknown section [{section}]")
            _apply(getattr(cfg, section), section, values)
    for name, value in env.items():
        if not name.startswith("GATEWAY_") or "__" not in name:
            continue
        section, _, key = name[len("GATEWAY_"):].lower().partition("__")
        if section not in SECTIONS:
            continue
        obj = getattr(cfg, section)
        if key not in {f.name for f in fields(obj)}:
            raise ConfigError(f"{name}: unknown setting [{section}] {key}")
        setattr(obj, key, _coerce(value, getattr(obj, key), name))
    if cfg.sev.dialect not in ("sev2", "wcf"):
        raise ConfigError('[sev] dialect must be "sev2" or "wcf"')
    if cfg.storage.backend not in ("folder", "database"):
        raise ConfigError('[storage] backend must be "folder" or "database"')
    if cfg.sev.poll_lease_seconds <= 0:
        raise ConfigError("[sev] poll_lease_seconds must be positive")
    if cfg.trust.revocation not in ("online", "offline"):
        raise ConfigError('[trust] revocation must be "online" or "offline"')
    trust = cfg.trust
    if trust.fetch_timeout <= 0 or trust.fetch_max_bytes <= 0:
        raise ConfigError("[trust] fetch_timeout and fetch_max_bytes must be positive")
    if trust.ocsp_fresh_seconds < 0 or trust.fetch_backoff_seconds < 0:
        raise ConfigError("[trust] ocsp_fresh_seconds and fetch_backoff_seconds must not be negative")
    for key in ("header_timeout", "body_timeout", "min_body_rate", "keep_alive_timeout", "limit_concurrency"):
        if getattr(cfg.server, key) < 0:
            raise ConfigError(f"[server] {key} must be 0 (off) or more, got {getattr(cfg.server, key)}")
    return cfg


def default_config_path() -> Path | None:
    """`--config` default: $GATEWAY_CONFIG, else ./gateway.toml when present."""
    if os.environ.get("GATEWAY_CONFIG"):
        return Path(os.environ["GATEWAY_CONFIG"])
    p = Path("gateway.toml")
    return p if p.exists() else None
