"""Settings shared by every part of the project.

Values come from the environment, with a `.env` file at the repository root
read first (python-dotenv; variables already set in the environment win).
The names are the ones documented in `.env.example`:

CRM_BASE_URL, CRM_API_TOKEN, CRM_ALLOW_INSECURE_HTTP, DUCKDB_PATH, RAW_SCHEMA, DBT_TARGET,
PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and the original app's
DATABASE_URL (translated into the PG* values when those are not set).

The CRM to extract (`crm_account`) may also be configured the dlt way:
`base_url` / `api_key` under `[sources.freshsales]` (env
SOURCES__FRESHSALES__BASE_URL / SOURCES__FRESHSALES__API_KEY, `.dlt/secrets.toml`,
`.dlt/config.toml`, as dlt resolves them); CRM_BASE_URL / CRM_API_TOKEN win.

Errors raised here are `ConfigError`s whose message names the variable and
never contains a secret.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from dotenv import load_dotenv


def _project_dir() -> Path:
    """The project folder: where `.env`, the default `crm.duckdb`, `.dlt/`, `logs/` and
    the dbt project (`dbt_project.yml`, the mart contracts) are looked up.

    1. `CRM_PROJECT_DIR` when set (environment only: `.env` is read from this folder);
    2. else the checkout this package lives in, when `dbt_project.yml` is beside it
       (running from the clone, or an editable install `pip install -e .`);
    3. else the current working directory (a wheel installed into site-packages).
    """
    configured = os.environ.get("CRM_PROJECT_DIR", "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "dbt_project.yml").is_file():
        return checkout
    return Path.cwd().resolve()


REPO_ROOT = _project_dir()
DEFAULT_DUCKDB_PATH = REPO_ROOT / "crm.duckdb"
DEFAULT_RAW_SCHEMA = "raw"
DBT_TARGETS = ("duckdb", "postgres")
# dlt's names of the CRM's URL and key (`[sources.freshsales]` in .dlt/*.toml).
DLT_BASE_URL = "sources.freshsales.base_url"
DLT_API_KEY = "sources.freshsales.api_key"
# Set to 1 to let the CRM URL be plain http:// to a host other than this machine
# (the API token then travels in clear text). Loopback hosts never need it.
ALLOW_INSECURE_HTTP = "CRM_ALLOW_INSECURE_HTTP"


# DuckDB 2.0 writes a file format that DuckDB 1.x clients refuse ("version number 999"),
# and most BI tools embed 1.x. A file created with this storage version stays readable
# by them. The version is fixed when the file is created: opening an existing file keeps
# its own, so every `duckdb.connect` of the project's file passes `duckdb_config()`.
DUCKDB_STORAGE_VERSION_ENV = "DUCKDB_STORAGE_VERSION"
DEFAULT_DUCKDB_STORAGE_VERSION = "v1.0.0"


def duckdb_config() -> dict[str, Any]:
    """The `config` of every `duckdb.connect` that may create the project's file."""
    version = _clean(os.environ.get(DUCKDB_STORAGE_VERSION_ENV))
    return {"storage_compatibility_version": version or DEFAULT_DUCKDB_STORAGE_VERSION}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class PgSettings:
    """Connection settings of the PostgreSQL destination (libpq names)."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = field(default="", repr=False)
    database: str = "postgres"

    def dlt_credentials(self) -> dict[str, object]:
        """Credentials in the form dlt's postgres destination accepts."""
        return {
            "host": self.host,
            "port": self.port,
            "username": self.user,
            "password": self.password,
            "database": self.database,
        }

    def describe(self) -> str:
        """Where the server is, without the password."""
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class Settings:
    """Everything the extractor, dbt and the tools read from the environment."""

    crm_base_url: str | None
    crm_api_token: str | None = field(repr=False)
    duckdb_path: Path
    raw_schema: str
    dbt_target: str
    pg: PgSettings


def load_env_file(path: Path | None = None) -> None:
    """Read `.env` (repo root by default) without overriding the environment."""
    load_dotenv(path or REPO_ROOT / ".env", override=False)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _port(value: str, variable: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ConfigError(f"{variable} must be a port number, got {value!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{variable} must be between 1 and 65535, got {port}")
    return port


def parse_database_url(url: str) -> dict[str, str]:
    """Translate a `postgresql://user:pass@host:port/db` URL into PG* values."""
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql", "postgresql+psycopg2"):
        raise ConfigError(
            "DATABASE_URL must start with postgresql:// "
            f"(got a {parsed.scheme or 'schemeless'} URL)"
        )
    values: dict[str, str] = {}
    if parsed.hostname:
        values["PGHOST"] = parsed.hostname
    try:
        port = parsed.port
    except ValueError:
        raise ConfigError("DATABASE_URL has an invalid port") from None
    if port:
        values["PGPORT"] = str(port)
    if parsed.username:
        values["PGUSER"] = unquote(parsed.username)
    if parsed.password:
        values["PGPASSWORD"] = unquote(parsed.password)
    database = parsed.path.lstrip("/")
    if database:
        values["PGDATABASE"] = unquote(database)
    return values


def pg_settings(env: dict[str, str] | os._Environ[str] | None = None) -> PgSettings:
    """PG* variables, falling back to DATABASE_URL, then to the local server."""
    env = os.environ if env is None else env
    from_url: dict[str, str] = {}
    database_url = _clean(env.get("DATABASE_URL"))
    if database_url:
        from_url = parse_database_url(database_url)

    def pick(name: str, default: str) -> str:
        value = _clean(env.get(name))
        if value is not None:
            return value
        return from_url.get(name, default)

    return PgSettings(
        host=pick("PGHOST", "127.0.0.1"),
        port=_port(pick("PGPORT", "5432"), "PGPORT"),
        user=pick("PGUSER", "postgres"),
        password=env.get("PGPASSWORD") or from_url.get("PGPASSWORD", ""),
        database=pick("PGDATABASE", "postgres"),
    )


def _base_url(value: str | None, variable: str = "CRM_BASE_URL") -> str | None:
    value = _clean(value)
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            f"{variable} must be an http(s) URL such as "
            "https://acme.myfreshworks.com/crm/sales"
        )
    if parsed.scheme == "http" and not _is_loopback(parsed.hostname) and not _insecure_allowed():
        raise ConfigError(
            f"{variable} is plain http:// to {parsed.hostname or '?'}, which would send the "
            "API token in clear text; use https:// (http is accepted only for localhost, "
            f"127.0.0.1 and ::1, or with {ALLOW_INSECURE_HTTP}=1)"
        )
    value = value.rstrip("/")
    if value.endswith("/api"):
        value = value[: -len("/api")]
    return value


def _is_loopback(host: str | None) -> bool:
    """localhost, 127.0.0.0/8 or ::1: the request never leaves this machine."""
    if not host:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _insecure_allowed() -> bool:
    """CRM_ALLOW_INSECURE_HTTP=1 (or true/yes), read from the environment and `.env`."""
    return (_clean(os.environ.get(ALLOW_INSECURE_HTTP)) or "").lower() in ("1", "true", "yes")


def _schema_name(value: str | None) -> str:
    value = _clean(value) or DEFAULT_RAW_SCHEMA
    if not value.replace("_", "").isalnum() or value[0].isdigit():
        raise ConfigError(
            f"RAW_SCHEMA must be a plain identifier (letters, digits, _), got {value!r}"
        )
    return value


def _dbt_target(value: str | None) -> str:
    value = (_clean(value) or "duckdb").lower()
    if value not in DBT_TARGETS:
        raise ConfigError(f"DBT_TARGET must be one of {', '.join(DBT_TARGETS)}, got {value!r}")
    return value


def _duckdb_path(value: str | None) -> Path:
    value = _clean(value)
    if value is None:
        return DEFAULT_DUCKDB_PATH
    path = Path(value).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def load_settings(read_env_file: bool = True) -> Settings:
    """Resolve the settings; raises ConfigError naming the bad variable."""
    if read_env_file:
        load_env_file()
    env = os.environ
    return Settings(
        crm_base_url=_base_url(env.get("CRM_BASE_URL")),
        crm_api_token=_clean(env.get("CRM_API_TOKEN")),
        duckdb_path=_duckdb_path(env.get("DUCKDB_PATH")),
        raw_schema=_schema_name(env.get("RAW_SCHEMA")),
        dbt_target=_dbt_target(env.get("DBT_TARGET")),
        pg=pg_settings(env),
    )


# ---------------------------------------------------------------- the CRM account


@dataclass(frozen=True)
class CrmAccount:
    """The CRM to extract and where its URL and key were found (names, not values)."""

    base_url: str
    api_key: str = field(repr=False)
    base_url_from: str = "CRM_BASE_URL"
    api_key_from: str = "CRM_API_TOKEN"


_SET_URL = ("set CRM_BASE_URL (environment or .env) or base_url under "
            "[sources.freshsales] in .dlt/config.toml (or SOURCES__FRESHSALES__BASE_URL)")
_SET_KEY = ("set CRM_API_TOKEN (environment or .env) or api_key under "
            "[sources.freshsales] in .dlt/secrets.toml (or SOURCES__FRESHSALES__API_KEY)")


def crm_account(settings: Settings) -> CrmAccount | None:
    """The CRM account to extract, or None when none is configured (the demo).

    Each of the URL and the key is looked up in this order: CRM_BASE_URL /
    CRM_API_TOKEN (environment, then `.env`), then dlt's config
    `sources.freshsales.base_url` / `sources.freshsales.api_key` as dlt resolves
    them (env SOURCES__FRESHSALES__*, `.dlt/secrets.toml`, `.dlt/config.toml` of
    the current directory or DLT_PROJECT_DIR, then dlt's global folder; the key
    only from places that hold secrets). A URL without a key, or a key without a
    URL, is a ConfigError that names what is missing, never the key.
    """
    base_url, base_url_from = settings.crm_base_url, "CRM_BASE_URL"
    api_key, api_key_from = settings.crm_api_token, "CRM_API_TOKEN"
    if base_url is None:
        base_url_from = DLT_BASE_URL
        base_url = _base_url(_dlt_value(DLT_BASE_URL, secret=False), DLT_BASE_URL)
    if api_key is None:
        api_key_from = DLT_API_KEY
        api_key = _clean(_dlt_value(DLT_API_KEY, secret=True))
    if base_url is None and api_key is None:
        return None
    if api_key is None:
        hint = ""
        if _dlt_value(DLT_API_KEY, secret=False) is not None:
            hint = " (dlt ignores the api_key in config.toml, which is not for secrets)"
        raise ConfigError(
            f"the CRM URL is set ({base_url_from}) but no API key{hint}: {_SET_KEY}"
        )
    if base_url is None:
        raise ConfigError(
            f"an API key is set ({api_key_from}) but no CRM URL: {_SET_URL}"
        )
    return CrmAccount(base_url, api_key, base_url_from, api_key_from)


def dlt_settings_dir() -> Path:
    """The `.dlt` folder dlt reads: the current directory's, or DLT_PROJECT_DIR's."""
    import dlt

    return Path(dlt.current.run_context().settings_dir).resolve()


def _dlt_value(name: str, secret: bool) -> str | None:
    """`name` as dlt resolves it (dlt.secrets for secrets, else dlt.config)."""
    import dlt
    from dlt.common.configuration.providers.toml import TomlProviderReadException

    try:
        value: Any = (dlt.secrets if secret else dlt.config).get(name)
    except TomlProviderReadException as exc:
        # The parser's message may quote the file; keep only the position.
        where = re.search(r"line \d+ col(?:umn)? \d+", str(exc))
        raise ConfigError(
            f"cannot read dlt's {exc.file_name} ({' or '.join(exc.full_paths)}): "
            f"not valid TOML{' at ' + where.group(0) if where else ''}"
        ) from None
    if value is None or isinstance(value, str):
        return value
    raise ConfigError(f"{name} must be a string (in quotes)")


# ---------------------------------------------------------------- what to extract

DLT_OBJECTS = "sources.freshsales.objects"


def objects_setting(value: Any = None, from_dlt: bool = True) -> list[str] | None:
    """The raw tables to extract, or None for all of them.

    `value` (the CLI's `--objects`, a list or comma-separated text) wins; else
    dlt's `sources.freshsales.objects` (`[sources.freshsales] objects = [...]`
    in `.dlt/config.toml`, or SOURCES__FRESHSALES__OBJECTS="tasks,deals"),
    when `from_dlt`. An unknown name is a ConfigError listing the known ones.
    """
    where = "--objects"
    if value is None and from_dlt:
        import dlt

        value, where = dlt.config.get(DLT_OBJECTS), DLT_OBJECTS
    if value is None:
        return None
    return parse_objects(value, where)


def parse_objects(value: Any, where: str = "--objects") -> list[str]:
    """`tasks,deals` (or a list of names, or a JSON list) -> ["tasks", "deals"];
    ConfigError on an unknown name or an empty list."""
    from extract.freshsales.settings import OBJECTS

    if isinstance(value, str) and value.strip().startswith("["):
        import json

        try:  # SOURCES__FRESHSALES__OBJECTS='["tasks", "deals"]', as dlt writes lists
            value = json.loads(value)
        except ValueError:
            raise ConfigError(f"{where} is not a valid JSON list: {value}") from None
    if isinstance(value, str):
        names = [part.strip() for part in value.split(",")]
    elif isinstance(value, list | tuple):
        names = [str(part).strip() for part in value]
    else:
        raise ConfigError(f"{where} must be a list of names or comma-separated text")
    names = list(dict.fromkeys(name for name in names if name))
    unknown = [name for name in names if name not in OBJECTS]
    if unknown:
        raise ConfigError(
            f"{where}: unknown object(s) {', '.join(repr(n) for n in unknown)}; "
            f"known: {', '.join(OBJECTS)}")
    if not names:
        raise ConfigError(f"{where} names no object; known: {', '.join(OBJECTS)}")
    return names
