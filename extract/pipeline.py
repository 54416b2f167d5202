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
is derived from the destination, the database and the dataset, so two
databases never share cursors; inside the state the cursors are keyed by the CRM (its base URL, or
`crm_key`), so pointing at another CRM starts with a full sync.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import resource
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
# dlt logs a failing load job with its traceback at every retry; the run's
# one-line error says what happened (--verbose shows dlt's log).
os.environ.setdefault("RUNTIME__LOG_LEVEL", "CRITICAL")
# Memory stays flat whatever the CRM's size (make bench: peak RSS at 100,000
# deals 567 MB -> ~370 MB): Arrow hands freed buffers back to the system
# instead of keeping them in its own pool, and DuckDB's load (dlt's merge)
# spills to disk beyond 128 MB. Both are overridable the usual way.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
os.environ.setdefault("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG",
                      '{"memory_limit": "128MB"}')

import dlt  # noqa: E402
from dlt.common.destination import TLoaderFileFormat  # noqa: E402
from dlt.pipeline.exceptions import PipelineStepFailed  # noqa: E402

from extract.config import REPO_ROOT, PgSettings  # noqa: E402
from extract.freshsales import RunContext, freshsales_source  # noqa: E402
from extract.freshsales import settings as fs_settings  # noqa: E402
from extract.freshsales.helpers import CrmError, RateLimitExhausted  # noqa: E402

DEFAULT_PIPELINES_DIR = REPO_ROOT / ".dlt" / "pipelines"
DESTINATIONS = ("duckdb", "postgres", "filesystem")
FILE_FORMATS: dict[str, TLoaderFileFormat] = {
    "duckdb": "parquet", "postgres": "csv", "filesystem": "parquet",
}
RAW_PARQUET_URL_ENV = "RAW_PARQUET_URL"
DEFAULT_RAW_PARQUET_DIR = REPO_ROOT / "data" / "raw_parquet"


class ExtractError(RuntimeError):
    """A failure with a one-line message for the user (never a secret)."""

    def __init__(self, message: str, summary: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.summary = summary


class LockHeld(ExtractError):
    pass


class BudgetStopped(ExtractError):
    """The CRM's request budget ran out before every view was read to its end.

    What was read is loaded and each unfinished view saved its position: the
    next run continues there. The CLI exits with EXIT_BUDGET for it.
    """


class DestinationUnavailable(ExtractError):
    pass


# ---------------------------------------------------------------- naming


def pipeline_name_for(destination: str, dataset: str, target: str) -> str:
    """A stable pipeline name per destination database and dataset."""
    digest = hashlib.sha1(f"{destination}|{target}|{dataset}".encode()).hexdigest()[:10]
    return f"freshsales_{destination}_{dataset}_{digest}"


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


# ---------------------------------------------------------------- preflight


def check_duckdb(path: Path) -> None:
    """Fail early when the file cannot be opened for writing (locked, no dir)."""
    import duckdb

    if not path.parent.is_dir():
        raise DestinationUnavailable(f"DUCKDB_PATH folder {path.parent} does not exist")
    try:
        duckdb.connect(str(path)).close()
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
            f"cannot connect to PostgreSQL at {pg.describe()}: {reason} "
            "(check PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE or DATABASE_URL)"
        ) from None


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


# ---------------------------------------------------------------- lock


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """An flock the kernel drops when the holder exits, even on SIGKILL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = open(path, "a+")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            raise LockHeld(
                f"another extract is running ({holder or 'lock ' + str(path)}); "
                "wait for it to finish and run again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"PID {os.getpid()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
        handle.flush()
        yield
    finally:
        handle.close()


# ---------------------------------------------------------------- progress


class ProgressPrinter:
    """Rewrites one stderr line with records and pages per entity."""

    def __init__(self, ctx: RunContext, stream: IO[str] | None = None) -> None:
        self._ctx = ctx
        self._stream = stream or sys.stderr
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._started = time.monotonic()

    def __enter__(self) -> ProgressPrinter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._stream.write("\r" + self.line() + "\n")
        self._stream.flush()

    def line(self) -> str:
        stats = self._ctx.stats
        with stats.lock:
            parts = [
                f"{table} {stats.records[table]:,} rec/{stats.pages[table]:,} pages"
                for table in fs_settings.ENTITIES if table in stats.pages
            ]
            retries = stats.retries
        elapsed = time.monotonic() - self._started
        return f"extract {elapsed:5.1f}s  " + "  ".join(parts) + f"  retries {retries}"

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._stream.write("\r" + self.line() + "\x1b[K")
            self._stream.flush()


@contextmanager
def _maybe_progress(ctx: RunContext, enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    with ProgressPrinter(ctx):
        yield


# ---------------------------------------------------------------- errors


def explain(exc: BaseException, secrets: tuple[str, ...] = ()) -> str | None:
    """One line for a failure a user will meet, or None when it is a bug."""
    message: str | None = None
    for cause in _chain(exc):
        if isinstance(cause, ExtractError | CrmError):
            message = str(cause)
        elif isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            message = (
                f"disk full while writing {cause.filename or 'extract files'}; free some "
                "space and run again (the next run resumes where this one stopped)"
            )
        elif _is_duckdb_lock(cause):
            message = (
                "the DuckDB file is in use by another process (a BI tool, a running "
                "dbt build?); close it and run again"
            )
        elif type(cause).__module__.startswith("psycopg2") and "connect" in str(cause):
            message = f"PostgreSQL connection failed: {str(cause).strip().splitlines()[0]}"
        if message:
            break
    if message is None:
        return None
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = getattr(current, "exception", None)
        todo.extend([current.__cause__, current.__context__])
        if isinstance(nested, BaseException):
            todo.append(nested)


def _is_duckdb_lock(exc: BaseException) -> bool:
    return type(exc).__name__ == "IOException" and "lock" in str(exc).lower()


# ---------------------------------------------------------------- run


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
    """
    if destination not in DESTINATIONS:
        raise ExtractError(f"destination must be one of {', '.join(DESTINATIONS)}")
    if not base_url:
        raise ExtractError("CRM_BASE_URL is not set (and no sandbox was started)")
    if not api_key:
        raise ExtractError("CRM_API_TOKEN is not set")
    started = time.monotonic()
    started_at = datetime.now(UTC)
    dest, target, lock_path, workdir, preflight = _destination(
        destination, duckdb_path, pg_credentials, pipelines_dir, bucket_url
    )
    name = pipeline_name_for(destination, dataset, target)
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
        finished = _finish_pending(pipeline, full_refresh, workdir, note)
        refresh = full_refresh or _trust_destination(
            pipeline, crm_key or base_url.rstrip("/"), note,
        )
        options = dict(source_options or {})
        if concurrency is not None:
            options["concurrency"] = concurrency
        if max_wait_s is not None:
            options["max_rate_limit_wait_s"] = max_wait_s
        try:
            source = freshsales_source(
                base_url=base_url, api_key=api_key, crm_key=crm_key, context=ctx, **options,
            )
        except RateLimitExhausted as exc:  # while looking up views: nothing read yet
            ctx.fail("views", exc)
            raise BudgetStopped(budget_message(ctx)) from None
        with _maybe_progress(ctx, progress):
            try:
                row_counts = _run_steps(pipeline, source, fmt, refresh)
            except PipelineStepFailed as exc:
                message = explain(exc, (api_key,))
                if exc.step == "load" and not _destination_problem(exc):
                    moved = _quarantine(pipeline, workdir)
                    message = (f"loading failed ({message or _first_line(exc)}); the load "
                               f"package was moved to {moved}; the next run reads its pages "
                               "again")
                if message:
                    raise ExtractError(message) from exc
                raise
        summary = _summary(pipeline, ctx, destination, dataset, base_url, crm_key, started,
                           started_at, finished, refresh, row_counts)
    if ctx.errors:
        raise ExtractError("; ".join(ctx.errors), summary)
    if ctx.budget_stops:
        raise BudgetStopped(budget_message(ctx), summary)
    return summary


def budget_message(ctx: RunContext) -> str:
    """"stopped on the CRM's request budget after N requests; X of Y pages of deals
    read; the next run continues (budget resets in M min)"."""
    read: dict[str, list[int]] = {}
    for view, (page, total) in ctx.budget_stops.items():
        entity = view.split("/", 1)[0]
        if "/" in view and entity != "selector":
            done, pages = read.setdefault(entity, [0, 0])
            read[entity] = [done + page, pages + total]
    parts = [f"{done:,} of {pages:,} pages of {entity} read" if pages else f"{entity} not begun"
             for entity, (done, pages) in sorted(read.items())]
    if any(view.startswith("selector/") for view in ctx.budget_stops):
        parts.append("selector lists not read")
    if "views" in ctx.budget_stops:
        parts.append("no view read yet")
    reset = ctx.budget_reset_s
    when = ""
    if reset is not None:
        when = (f" (budget resets in {reset:.0f} s)" if reset < 90
                else f" (budget resets in {reset / 60:.0f} min)")
    return (f"stopped on the CRM's request budget after {ctx.stats.requests:,} requests; "
            f"{'; '.join(parts)}; the next run continues{when}")


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
    normalized = pipeline.normalize()
    _test_kill_point("normalized")
    pipeline.load()
    return dict(normalized.row_counts) if normalized else {}


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
        return (dlt.destinations.duckdb(str(path)), str(path), lock, workdir,
                lambda: check_duckdb(path))
    if destination == "filesystem":
        url = raw_parquet_url(bucket_url)
        return (dlt.destinations.filesystem(bucket_url=url), url, None, workdir,
                lambda: check_folder(url))
    pg = _pg(pg_credentials)
    target = f"{pg.host}:{pg.port}/{pg.database}"
    return (dlt.destinations.postgres(pg.dlt_credentials()), target, None, workdir,
            lambda: check_postgres(pg))


def _finish_pending(pipeline: dlt.Pipeline, full_refresh: bool, workdir: Path,
                    note: Callable[[str], None]) -> int:
    """Load what a killed run left behind (or drop it on a full refresh).

    A package that fails to load for a data reason (not an unreachable, locked
    or full destination) is moved aside, so runs do not fail on it forever;
    its pages are read again, as the destination's state does not have them.
    """
    if not pipeline.has_pending_data:
        return 0
    pending = len(pipeline.list_extracted_load_packages()) + len(
        pipeline.list_normalized_load_packages()
    )
    if full_refresh:
        pipeline.drop()
        return 0
    try:
        pipeline.normalize()
        pipeline.load()
    except PipelineStepFailed as exc:
        if _destination_problem(exc):
            raise
        moved = _quarantine(pipeline, workdir)
        note(f"a load package left by an earlier run failed to load ({_first_line(exc)}); "
             f"moved it to {moved}; its pages are read again")
        return 0
    return pending


def _destination_problem(exc: BaseException) -> bool:
    """The destination is unreachable, locked or full: the package is fine, keep it."""
    for cause in _chain(exc):
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            return True
        if _is_duckdb_lock(cause):
            return True
        name = type(cause).__name__
        if name in ("OperationalError", "DestinationConnectionError",
                    "DestinationTransientException") or "connection" in str(cause).lower()[:200]:
            return True
    return False


def _first_line(exc: BaseException) -> str:
    causes = [c for c in _chain(exc) if not isinstance(c, PipelineStepFailed)]
    text = str(causes[-1] if causes else exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]


def _quarantine(pipeline: dlt.Pipeline, workdir: Path) -> Path:
    """Copy the pending load packages to `<workdir>/quarantine/<pipeline>/` and
    drop the local pipeline (state and schema come back from the destination)."""
    target = workdir / "quarantine" / pipeline.pipeline_name
    ids = [*pipeline.list_normalized_load_packages(), *pipeline.list_extracted_load_packages()]
    root = Path(pipeline.working_dir)
    for load_id in ids:
        for folder in root.glob(f"*/*/{load_id}"):
            if folder.is_dir():
                shutil.copytree(folder, target / load_id, dirs_exist_ok=True)
    pipeline.drop()
    return target / ids[0] if len(ids) == 1 else target


def _trust_destination(pipeline: dlt.Pipeline, crm_key: str,
                       note: Callable[[str], None]) -> bool:
    """Take the pipeline's state from the destination, never from the local folder.

    The local working folder is dropped and the state and schema restored
    from the destination (dlt's `sync_destination`). When the local folder
    had cursors and the destination has none (the destination was reset: a
    deleted file, a dropped schema, a removed folder, a new database), the
    run syncs in full and says so. When the destination's state has cursors
    for a raw table that is missing or empty, likewise, and True is returned:
    the run drops the source's tables and state (dlt's `drop_sources`).
    """
    local = _tables_with_cursors(pipeline, crm_key)
    pipeline.drop()
    pipeline.sync_destination()
    remote = _tables_with_cursors(pipeline, crm_key)
    if local and not remote:
        note(f"the destination has no data of this pipeline ({pipeline.dataset_name} was "
             "reset, or this is a new database): ignoring the local state, syncing in full")
        return False
    if not remote:
        return False
    present = _raw_counts(pipeline, remote, exists_only=True)
    missing = [table for table in remote if not present.get(table)]
    if missing:
        note(f"{', '.join(pipeline.dataset_name + '.' + t for t in missing)} missing or empty "
             "in the destination while its state has cursors: syncing in full")
        return True
    return False


def _tables_with_cursors(pipeline: dlt.Pipeline, crm_key: str) -> list[str]:
    """The entity tables whose cursors or saved positions for this CRM are in the state."""
    try:
        resources = pipeline.state["sources"]["freshsales"]["resources"]  # type: ignore[index]
    except (KeyError, TypeError):
        return []
    return [
        table for table in fs_settings.ENTITIES
        if any((resources.get(table) or {}).get(kind, {}).get(crm_key)
               for kind in ("cursors", "positions"))
    ]


def _raw_counts(pipeline: dlt.Pipeline, tables: list[str],
                distinct_ids: bool = False, exists_only: bool = False) -> dict[str, int]:
    """Rows per raw table; records (distinct ids) in append-only parquet files;
    with `exists_only`, 1 for a table that has a row, else 0."""
    counted = "count(distinct id)" if distinct_ids else "count(*)"
    counts: dict[str, int] = {}
    with pipeline.sql_client() as client:
        for table in tables:
            name = client.make_qualified_table_name(table)
            sql = (f"select count(*) from (select 1 from {name} limit 1) as probe"
                   if exists_only else f"select {counted} from {name}")
            try:
                rows = client.execute_sql(sql)
            except Exception:  # noqa: BLE001 - a table that does not exist counts 0
                counts[table] = 0
                continue
            counts[table] = int(rows[0][0]) if rows else 0
    return counts


def _summary(
    pipeline: dlt.Pipeline, ctx: RunContext, destination: str, dataset: str, base_url: str,
    crm_key: str | None, started: float, started_at: datetime, finished: int,
    full_refresh: bool, row_counts: dict[str, int],
) -> dict[str, Any]:
    stats = ctx.stats
    duration = time.monotonic() - started
    tables = list(fs_settings.ENTITIES) + [t for t, _ in fs_settings.SELECTORS.values()]
    fetched = sum(stats.records.values())
    return {
        "destination": destination,
        "dataset": dataset,
        "pipeline_name": pipeline.pipeline_name,
        "crm": base_url,
        "crm_key": crm_key or base_url.rstrip("/"),
        "full_refresh": full_refresh,
        "started_at": started_at.isoformat(),
        "duration_s": round(duration, 3),
        "views": dict(ctx.views),
        "scan_mode": dict(ctx.scans),
        "list_requests": dict(stats.list_requests),
        "list_requests_total": sum(stats.list_requests.values()),
        "requests_total": stats.requests,
        "retries": stats.retries,
        "status_429": stats.status_429,
        "status_5xx": stats.status_5xx,
        "gap_rereads": stats.gap_rereads,
        "malformed_retries": stats.malformed_retries,
        "nul_cleaned": stats.nul_cleaned,
        "notes": list(ctx.notes),
        "stopped_on_budget": {view: {"page": page, "of_pages": total}
                              for view, (page, total) in ctx.budget_stops.items()},
        "budget_reset_s": (round(ctx.budget_reset_s, 3)
                           if ctx.budget_reset_s is not None else None),
        "rate_limit_wait_s": round(stats.rate_limit_waits_s, 3),
        "records_fetched": dict(stats.records),
        "records_fetched_total": fetched,
        "records_per_s": round(fetched / duration, 1) if duration > 0 else None,
        # dlt's csv writer over-counts dict rows, so selector rows are counted here.
        "rows_loaded": {
            **{k: v for k, v in row_counts.items() if not k.startswith("_dlt")},
            **dict(stats.selector_rows),
        },
        "raw_counts": _raw_counts(pipeline, tables, distinct_ids=destination == "filesystem"),
        "pending_packages_finished": finished,
        "step_s": _step_durations(pipeline.last_trace),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "errors": list(ctx.errors),
    }


def _step_durations(trace: Any) -> dict[str, float]:
    """Seconds spent in each dlt step (extract, normalize, load) of the last run."""
    durations: dict[str, float] = {}
    for step in getattr(trace, "steps", None) or []:
        if step.started_at and step.finished_at and step.step != "run":
            seconds = (step.finished_at - step.started_at).total_seconds()
            durations[step.step] = round(durations.get(step.step, 0.0) + seconds, 3)
    return durations


def format_summary(summary: dict[str, Any]) -> str:
    """The human-readable end-of-run report."""
    lines = [
        f"extracted {summary['crm']} into {summary['destination']} dataset "
        f"{summary['dataset']!r} in {summary['duration_s']:.1f} s "
        f"({summary['records_fetched_total']:,} records, "
        f"{summary['records_per_s'] or 0:,.0f}/s)",
    ]
    if summary["pending_packages_finished"]:
        lines.append(
            f"  finished {summary['pending_packages_finished']} package(s) "
            "left by an interrupted run"
        )
    for table, count in summary["raw_counts"].items():
        loaded = summary["rows_loaded"].get(table, 0)
        lines.append(f"  {table:<16} {count:>10,} rows in raw  ({loaded:,} written this run)")
    lines.append(
        f"  requests {summary['requests_total']:,} (list {summary['list_requests_total']:,}), "
        f"retries {summary['retries']} (429: {summary['status_429']}, "
        f"5xx: {summary['status_5xx']}), boundary re-reads {summary['gap_rereads']}"
    )
    if summary.get("malformed_retries"):
        lines.append(f"  malformed answers fetched again: {summary['malformed_retries']}")
    if summary.get("nul_cleaned"):
        lines.append(f"  text values cleaned of NUL bytes: {summary['nul_cleaned']}")
    for view, count in sorted(summary["list_requests"].items()):
        mode = summary["scan_mode"].get(view, "")
        lines.append(f"    {view:<32} {count:>6,} list requests  {mode}")
    return "\n".join(lines)
