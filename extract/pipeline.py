"""Runs the Freshsales source into DuckDB, PostgreSQL or Parquet files and reports
what it did.

`run_extract()` is the Python API (tests, benchmarks); `python -m extract run`
wraps it. One run:

1. checks the destination answers (and that no other process holds the
   DuckDB file) before it spends API quota;
2. takes an exclusive `flock` so two runs never interleave (a killed run's
   lock is released by the kernel);
3. finishes packages a killed run left behind (a package that fails for a
   data reason is moved aside to `<pipelines dir>/quarantine/`), then takes
   the state from the destination, never from the local folder: when the
   destination was reset (file deleted, schema dropped, folder removed), or a
   raw table that has cursors is missing or empty, it syncs in full;
4. loads DuckDB through parquet files and PostgreSQL through COPY (csv);
   `filesystem` writes the parquet files themselves to a folder or an
   object-store URL (env RAW_PARQUET_URL, default `data/raw_parquet` at the
   repo root), `<url>/<dataset>/<table>/<load_id>.<file_id>.parquet`, for
   engines such as Spark. Files are append-only there: a sync adds the new
   versions of changed records next to the old ones (dlt's merge needs a
   table format), and readers keep the latest version per id;
5. returns a summary: records per table, list requests per view, retries,
   429s, duration, row counts in raw.

Pipeline working folders live under `.dlt/pipelines` at the repo root unless
`pipelines_dir` (or env DLT_PIPELINES_DIR) says otherwise. The pipeline name
is `freshsales_<destination>_<dataset>` (readable for dlt's CLI); databases of
one kind share its working folder, but each run takes its state from its own
destination and loads left-over packages only into the database they were for.
Inside the state the cursors are keyed by the CRM (its base URL, or
`crm_key`), so pointing at another CRM starts with a full sync.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import signal
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.common.destination import TLoaderFileFormat
from dlt.pipeline.exceptions import PipelineStepFailed

from extract.checks import (
    DEFAULT_RAW_PARQUET_DIR,
    RAW_PARQUET_URL_ENV,
    check_duckdb,
    check_folder,
    check_postgres,
    raw_parquet_url,
)
from extract.config import REPO_ROOT, PgSettings, objects_setting
from extract.defaults import DUCKDB_LOAD_ENV
from extract.errors import (
    BudgetStopped,
    DestinationUnavailable,
    ExtractError,
    LockHeld,
    destination_problem,
    explain,
    first_line,
)
from extract.freshsales import RunContext, freshsales_source
from extract.freshsales.client import RateLimitExhausted
from extract.locking import exclusive_lock
from extract.progress import maybe_progress
from extract.recovery import finish_pending, load, mark_target, quarantine, trust_destination
from extract.summary import budget_message, format_summary, summarize

__all__ = [
    "DEFAULT_RAW_PARQUET_DIR", "RAW_PARQUET_URL_ENV", "BudgetStopped",
    "DestinationUnavailable", "ExtractError", "LockHeld", "check_duckdb", "check_folder",
    "check_postgres", "exclusive_lock", "explain", "format_summary", "pipeline_name_for",
    "raw_parquet_url", "run_extract",
]

DEFAULT_PIPELINES_DIR = REPO_ROOT / ".dlt" / "pipelines"
DESTINATIONS = ("duckdb", "postgres", "filesystem")
FILE_FORMATS: dict[str, TLoaderFileFormat] = {
    "duckdb": "parquet", "postgres": "csv", "filesystem": "parquet",
}
# PostgreSQL: normalize starts a new csv file every this many (uncompressed)
# bytes, so dlt's load workers COPY a big table as several files at once
# instead of one backend doing all of it while the other core idles at the
# end. Measured load step (2 cores, load average 13-18): 1,000,000 deals
# (7,133,404 rows) 42.8-43.5 s in 100,000-row files against 50.3-61.2 s with one
# file a table; 100,000 deals 4.6-6.5 s in 50,000-row files against 5.3-7.3 s.
PG_FILE_MAX_BYTES = 32 * 1024 * 1024


def pipeline_name_for(destination: str, dataset: str) -> str:
    """The pipeline's name, readable for dlt's CLI: `freshsales_duckdb_raw`.

    Databases of the same kind share it (and the working folder): each run
    takes its state from its own destination, and packages a killed run left
    are loaded only into the database they were for (recovery.finish_pending).
    """
    return f"freshsales_{destination}_{dataset}"


def _pg(pg_credentials: PgSettings | dict[str, Any] | None) -> PgSettings:
    if pg_credentials is None:
        from extract.config import pg_settings

        return pg_settings()
    if isinstance(pg_credentials, PgSettings):
        return pg_credentials
    values = dict(pg_credentials)
    if "username" in values:
        values["user"] = values.pop("username")
    if "dbname" in values:
        values["database"] = values.pop("dbname")
    return PgSettings(**values)


def run_extract(
    destination: str = "duckdb",
    base_url: str | None = None,
    api_key: str | None = None,
    duckdb_path: str | Path | None = None,
    dataset: str = "raw",
    pg_credentials: PgSettings | dict[str, Any] | None = None,
    full_refresh: bool = False,
    pipelines_dir: str | Path | None = None,
    progress: bool = False,
    crm_key: str | None = None,
    concurrency: int | None = None,
    source_options: dict[str, Any] | None = None,
    bucket_url: str | Path | None = None,
    max_wait_s: float | None = None,
    notify: Callable[[str], None] | None = None,
    objects: Sequence[str] | str | None = None,
    full_sweep: bool = False,
) -> dict[str, Any]:
    """Extract the CRM at `base_url` into `dataset`; return the run summary.

    Raises ExtractError (or CrmError) with a one-line message on failures a
    user will meet. `source_options` go to `freshsales_source` (view names,
    includes, per_page, requests_per_second, ...). `bucket_url` is the folder
    or object-store URL of the filesystem destination (default: env
    RAW_PARQUET_URL, else data/raw_parquet at the repo root). `max_wait_s` is
    the longest the run waits for the CRM's request budget to reset before it
    stops with BudgetStopped. `notify` receives one-line notes as they happen
    (a reset destination, a package moved aside); they are in the summary too.
    `objects` names the raw tables to load (a list, or comma-separated;
    default: dlt's `sources.freshsales.objects`, else every one), selected
    with dlt's `with_resources`; `source_options` `entities`/`selectors` (the
    write-back re-sync) narrow the source itself and then win over the
    setting. `full_sweep` reads the lists without views (tasks,
    appointments, sales activities) in full and marks deleted what they no
    longer hold.
    """
    if destination not in DESTINATIONS:
        raise ExtractError(f"destination must be one of {', '.join(DESTINATIONS)}")
    if not base_url:
        raise ExtractError("CRM_BASE_URL is not set (and no sandbox was started)")
    if not api_key:
        raise ExtractError("CRM_API_TOKEN is not set")
    narrowed = bool(source_options) and any(
        k in (source_options or {}) for k in ("entities", "selectors"))
    selected = objects_setting(objects, from_dlt=not narrowed)
    started = time.monotonic()
    started_at = datetime.now(UTC)
    dest, target, lock_path, workdir, preflight = _destination(
        destination, duckdb_path, pg_credentials, pipelines_dir, bucket_url
    )
    name = pipeline_name_for(destination, dataset)
    lock_path = lock_path or workdir / f"{name}.lock"
    ctx = RunContext(notify=notify)
    note = ctx.note
    with exclusive_lock(lock_path):
        preflight()
        pipeline = dlt.pipeline(
            pipeline_name=name, destination=dest, dataset_name=dataset,
            pipelines_dir=str(workdir),
        )
        fmt = FILE_FORMATS[destination]
        if destination == "postgres":
            _split_copy_files(name)
        finished = finish_pending(pipeline, full_refresh, workdir, note, target)
        refresh = full_refresh or trust_destination(
            pipeline, crm_key or base_url.rstrip("/"), note, target,
        )
        mark_target(pipeline, target)
        if pipeline.default_schema_name:  # raw exists: sweeps compare their ids with it
            ctx.raw_sql = pipeline.sql_client()
        options = dict(source_options or {})
        if concurrency is not None:
            options["concurrency"] = concurrency
        if max_wait_s is not None:
            options["max_rate_limit_wait_s"] = max_wait_s
        if full_sweep:
            options["full_sweep"] = True
        try:
            source = freshsales_source(
                base_url=base_url, api_key=api_key, crm_key=crm_key, context=ctx, **options,
            )
            if selected is not None:
                source = source.with_resources(*[n for n in selected if n in source.resources])
            if ctx.setup is not None:  # views and selector lists, before any page is read
                for table in ctx.setup.prepare(source.selected_resources):
                    source.resources[table].selected = False
        except RateLimitExhausted as exc:  # while looking up views: nothing read yet
            ctx.fail("views", exc)
            raise BudgetStopped(budget_message(ctx)) from None
        with maybe_progress(ctx, progress):
            try:
                row_counts = _run_steps(pipeline, source, fmt, refresh)
            except PipelineStepFailed as exc:
                message = explain(exc, (api_key,))
                if exc.step == "load" and not destination_problem(exc):
                    moved = quarantine(pipeline, workdir)
                    message = (f"loading failed ({message or first_line(exc)}); the load "
                               f"package was moved to {moved}; the next run reads its pages "
                               "again" + _memory_hint(destination, message or str(exc)))
                if message:
                    raise ExtractError(message) from exc
                raise
        summary = summarize(pipeline, ctx, destination, dataset, base_url, crm_key, started,
                           started_at, finished, refresh, row_counts,
                           list(source.selected_resources))
    if ctx.errors:
        raise ExtractError("; ".join(ctx.errors), summary)
    if ctx.budget_stops:
        raise BudgetStopped(budget_message(ctx), summary)
    return summary


def _memory_hint(destination: str, message: str) -> str:
    """What to change when DuckDB's load ran out of its memory limit: the next
    run would load the same files under the same limit."""
    if destination != "duckdb" or "Out of Memory" not in message:
        return ""
    try:  # only the limit: the rest of that config may hold credentials
        now = f" (now {json.loads(os.environ[DUCKDB_LOAD_ENV])['memory_limit']})"
    except (KeyError, TypeError, ValueError):
        now = ""
    return ("; DuckDB's load ran out of its memory limit: raise memory_limit in "
            f"{DUCKDB_LOAD_ENV}{now}")


KILL_AT_ENV = "CRM_EXTRACT_TEST_KILL_AT"


def _run_steps(pipeline: dlt.Pipeline, source: Any, fmt: TLoaderFileFormat,
               full_refresh: bool) -> dict[str, int]:
    """extract, normalize, load: `pipeline.run()` spelled out step by step.

    Between the steps the test hook CRM_EXTRACT_TEST_KILL_AT=extracted|normalized
    sends this process SIGKILL, so the kill -9 tests hit an exact point.
    """
    if full_refresh:
        pipeline.extract(source, loader_file_format=fmt, refresh="drop_sources")
    else:
        pipeline.extract(source, loader_file_format=fmt)
    _test_kill_point("extracted")
    release_memory()
    normalized = pipeline.normalize()
    _test_kill_point("normalized")
    load(pipeline)
    return dict(normalized.row_counts) if normalized else {}


def release_memory() -> None:
    """Hand the memory the extract step freed back to the system before the load.

    The pages, dicts and Arrow buffers of the extract step are freed, but glibc
    keeps freed memory in its arenas (one per thread that allocated), and
    DuckDB's load then adds its own on top. Measured at 100,000 deals: RSS
    260 MB at the end of the extract step, 213 MB after this.
    """
    gc.collect()
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)


def _split_copy_files(pipeline_name: str) -> None:
    """dlt's writer rotation (`normalize.data_writer.file_max_bytes`) for this
    pipeline only, unless the dlt config already sets it."""
    for key in (f"{pipeline_name}.normalize.data_writer.file_max_bytes",
                "normalize.data_writer.file_max_bytes"):
        if key in dlt.config:
            return
    dlt.config[f"{pipeline_name}.normalize.data_writer.file_max_bytes"] = PG_FILE_MAX_BYTES


def _test_kill_point(step: str) -> None:
    if os.environ.get(KILL_AT_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _destination(
    destination: str, duckdb_path: str | Path | None,
    pg_credentials: PgSettings | dict[str, Any] | None, pipelines_dir: str | Path | None,
    bucket_url: str | Path | None = None,
) -> tuple[Any, str, Path | None, Path, Callable[[], None]]:
    """The dlt destination, its identity, the lock file, the working folder and
    a check that the database can be written (run once the lock is held)."""
    workdir = Path(pipelines_dir or os.environ.get("DLT_PIPELINES_DIR") or DEFAULT_PIPELINES_DIR)
    if destination == "duckdb":
        from extract.config import DEFAULT_DUCKDB_PATH

        path = Path(duckdb_path or DEFAULT_DUCKDB_PATH).expanduser().resolve()
        lock = path.with_name(path.name + ".lock")
        from extract.duckdb_load import duckdb

        return (duckdb(str(path)), str(path), lock, workdir, lambda: check_duckdb(path))
    if destination == "filesystem":
        url = raw_parquet_url(bucket_url)
        return (dlt.destinations.filesystem(bucket_url=url), url, None, workdir,
                lambda: check_folder(url))
    pg = _pg(pg_credentials)
    target = f"{pg.host}:{pg.port}/{pg.database}"
    from extract.pg_load import postgres

    return (postgres(pg.dlt_credentials()), target, None, workdir,
            lambda: check_postgres(pg))


