"""Checks a run makes before it spends any of the CRM's request budget: the
destination can be written (DuckDB file not locked by another process, the
PostgreSQL server answers, the Parquet folder can be created)."""

from __future__ import annotations

import os
from pathlib import Path

from extract.config import REPO_ROOT, PgSettings, duckdb_config
from extract.errors import DestinationUnavailable, pg_unreachable

RAW_PARQUET_URL_ENV = "RAW_PARQUET_URL"
DEFAULT_RAW_PARQUET_DIR = REPO_ROOT / "data" / "raw_parquet"


def check_duckdb(path: Path) -> None:
    """Fail early when the file cannot be opened for writing (locked, no dir).

    This is also where a new file is created, before dlt opens it: dlt's duckdb
    destination applies its `global_config` only after the file is open, too late
    for the storage version, which DuckDB fixes at creation (`duckdb_config()`)."""
    import duckdb

    if not path.parent.is_dir():
        raise DestinationUnavailable(f"DUCKDB_PATH folder {path.parent} does not exist")
    try:
        duckdb.connect(str(path), config=duckdb_config()).close()
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            holder = _lock_holder(text)
            raise DestinationUnavailable(
                f"the DuckDB file {path} is in use by another process{holder} "
                "(a BI tool, a running dbt build?); close it and run again"
            ) from None
        raise DestinationUnavailable(f"cannot open the DuckDB file {path}: {text}") from None
    # The raw data is its owner's only (0600), also when the file existed before with
    # a looser mode (a new file already is under the CLI's umask 077). Files of
    # another user are left alone; a filesystem without modes is not an error.
    for file in (path, path.with_name(path.name + ".wal")):
        try:
            info = file.stat()
            if info.st_uid == os.geteuid() and info.st_mode & 0o077:
                file.chmod(0o600)
        except OSError:
            continue


def _lock_holder(text: str) -> str:
    marker = "PID "
    if marker in text:
        pid = text.split(marker, 1)[1].split(")")[0].split()[0]
        return f" (PID {pid})"
    return ""


def check_postgres(pg: PgSettings) -> None:
    import psycopg2

    try:
        psycopg2.connect(
            host=pg.host, port=pg.port, user=pg.user, password=pg.password or None,
            dbname=pg.database, connect_timeout=5,
        ).close()
    except psycopg2.OperationalError as exc:
        reason = (str(exc).strip().splitlines() or ["no answer"])[0]
        if pg.password:
            reason = reason.replace(pg.password, "***")
        raise DestinationUnavailable(
            pg_unreachable(f"PostgreSQL at {pg.describe()}", reason)) from None


def raw_parquet_url(bucket_url: str | Path | None = None) -> str:
    """The filesystem destination's URL: a local folder becomes an absolute path."""
    value = str(bucket_url or os.environ.get(RAW_PARQUET_URL_ENV, "").strip()
                or DEFAULT_RAW_PARQUET_DIR)
    if "://" in value:
        return value.rstrip("/")
    return str(Path(value).expanduser().resolve())


def check_folder(url: str) -> None:
    """Fail early when a local destination folder cannot be created or written."""
    if "://" in url and not url.startswith("file://"):
        return
    path = Path(url.removeprefix("file://"))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DestinationUnavailable(
            f"cannot create the {RAW_PARQUET_URL_ENV} folder {path}: {exc.strerror}"
        ) from None
    if not os.access(path, os.W_OK):
        raise DestinationUnavailable(f"the {RAW_PARQUET_URL_ENV} folder {path} is not writable")
