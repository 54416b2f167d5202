"""`python -m extract <command>`: the command line of the extractor and its tools.

Subcommands live in their own modules; each exposes `register(subparsers)`,
which adds its parser and sets `func` (a callable taking the parsed args and
returning an exit code) with `set_defaults(func=...)`. To add one, append its
module name to SUBCOMMAND_MODULES; a listed module that does not exist yet is
skipped.

Failures a user will meet print one line (`error: ...`) and exit non-zero;
`--verbose` adds the traceback. The API token never appears in the output.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

# Modules with a `register(subparsers)`; "extract.cli" registers `run`.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "extract.cli",
    "extract.tools.export",
    "extract.tools.lookup",
    "extract.tools.writeback",
    "extract.tools.audit",
)

EXIT_ERROR = 1
EXIT_USAGE = 2
# The CRM's request budget ran out: what was read is loaded, the next run
# continues (sysexits' EX_TEMPFAIL). `make extract && dbt build` stops here.
EXIT_BUDGET = 75
# umask of every run: new files 0600, new folders 0700.
PRIVATE_UMASK = 0o077


def register(subparsers: Any) -> None:
    """The `run` subcommand: extract the CRM into the raw schema."""
    parser = subparsers.add_parser(
        "run", help="extract the CRM (or the demo sandbox) into the raw schema",
        description="Copy Freshsales accounts, contacts, deals, leads, tasks, appointments, "
        "sales activities and selector lists into the raw schema, incrementally. "
        "Without a CRM (CRM_BASE_URL, or "
        "sources.freshsales.base_url in dlt's config) the demo sandbox is used. "
        f"Exit codes: 0 done, 1 failed, 2 bad input, {EXIT_BUDGET} stopped on the CRM's "
        "request budget (what was read is loaded; the next run continues).",
    )
    parser.add_argument("--destination", choices=("duckdb", "postgres", "filesystem"),
                        default=None,
                        help="where raw goes (default: DBT_TARGET, else duckdb); "
                        "filesystem writes parquet files to RAW_PARQUET_URL "
                        "(default data/raw_parquet), for Spark")
    parser.add_argument("--full-refresh", action="store_true",
                        help="drop the raw tables and cursors and reload everything")
    parser.add_argument("--summary", metavar="PATH", type=Path,
                        help="also write the run summary as JSON to PATH")
    parser.add_argument("--pipelines-dir", metavar="DIR", type=Path, default=None,
                        help="dlt working folder (default: DLT_PIPELINES_DIR, else .dlt/pipelines)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="list requests in flight per entity on a full sync "
                        "(default: .dlt/config.toml, 4)")
    parser.add_argument("--max-wait", type=float, default=None, metavar="SECONDS",
                        help="longest wait for the CRM's request budget to reset; when the "
                        "reset is further away the run stops with exit code "
                        f"{EXIT_BUDGET} and the next run continues where it stopped "
                        "(default: .dlt/config.toml max_rate_limit_wait_s, 120)")
    parser.add_argument("--objects", type=_objects, default=None, metavar="NAMES",
                        help="comma-separated raw tables to load, e.g. tasks,appointments,deals "
                        "(default: [sources.freshsales] objects in .dlt/config.toml, else all)")
    parser.add_argument("--full-sweep", action="store_true",
                        help="read tasks, appointments and sales activities in full and mark "
                        "deleted what they no longer hold (else done every "
                        "sweep_interval_hours, 24)")
    parser.set_defaults(func=run_command)


def _objects(value: str) -> list[str]:
    from extract.config import ConfigError, parse_objects

    try:
        return parse_objects(value)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--objects: ")) from None


def run_command(args: argparse.Namespace) -> int:
    from extract import defaults

    defaults.extractor_process()  # before pyarrow is imported and threads start
    from extract.config import crm_account, load_settings
    from extract.pipeline import run_extract
    from extract.summary import format_summary

    defaults.collect_less()  # once the heavy modules are imported
    settings = load_settings()
    args._secrets = (settings.crm_api_token or "", settings.pg.password)
    # CRM_BASE_URL / CRM_API_TOKEN, else dlt's sources.freshsales.base_url / api_key.
    account = crm_account(settings)
    destination = args.destination or settings.dbt_target
    common: dict[str, Any] = dict(
        destination=destination, duckdb_path=settings.duckdb_path,
        dataset=settings.raw_schema, pg_credentials=settings.pg,
        full_refresh=args.full_refresh, pipelines_dir=args.pipelines_dir,
        progress=not args.quiet, concurrency=args.concurrency,
        max_wait_s=args.max_wait, notify=lambda line: print(f"note: {line}", file=sys.stderr),
        objects=args.objects, full_sweep=args.full_sweep,
    )
    if account is not None:
        args._secrets = (account.api_key, settings.pg.password)
        summary = run_extract(base_url=account.base_url, api_key=account.api_key, **common)
    else:
        summary = _run_demo(common, quiet=args.quiet)
    if args.summary:
        args.summary.parent.mkdir(parents=True, exist_ok=True)
        args.summary.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if not args.quiet:
        print(format_summary(summary))
    return 0


def _run_demo(common: dict[str, Any], quiet: bool) -> dict[str, Any]:
    from extract.config import REPO_ROOT, dlt_settings_dir
    from extract.pipeline import run_extract

    try:
        from extract.sandbox import SandboxConfig, serve_in_thread
    except ImportError as exc:
        raise _UsageError(
            "no CRM is set (CRM_BASE_URL or sources.freshsales.base_url) and the demo "
            f"sandbox is missing ({exc})"
        ) from None
    config = SandboxConfig()
    with serve_in_thread(config) as sandbox:
        if not quiet:
            dlt_dir = dlt_settings_dir()
            elsewhere = "" if dlt_dir == REPO_ROOT / ".dlt" else (
                f"\n      (dlt reads {dlt_dir} here, not the project's {REPO_ROOT / '.dlt'})")
            print(
                "note: no CRM is set (neither CRM_BASE_URL nor sources.freshsales.base_url): "
                f"extracting DEMO data from the built-in sandbox ({config.accounts} accounts, "
                f"{config.contacts} contacts, {config.deals} deals) at {sandbox.base_url}.\n"
                "      To load a real account set CRM_BASE_URL "
                "(e.g. https://acme.myfreshworks.com/crm/sales) and CRM_API_TOKEN in .env,\n"
                "      or base_url in .dlt/config.toml and api_key in .dlt/secrets.toml "
                f"under [sources.freshsales].{elsewhere}",
                file=sys.stderr,
            )
        crm_key = f"demo-sandbox:seed={config.seed}"
        return run_extract(base_url=sandbox.base_url, api_key=sandbox.api_key,
                           crm_key=crm_key, **common)


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (`error: ...`), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see `{self.prog} --help`)\n")


def _prog() -> str:
    """`crm` when run as the installed command, else `python -m extract`."""
    return "crm" if Path(sys.argv[0]).name == "crm" else "python -m extract"


def build_parser(modules: Sequence[str] = SUBCOMMAND_MODULES) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=_prog(), description="Freshsales -> raw schema, and tools around it.",
    )
    parser.add_argument("--verbose", action="store_true",
                        help="show tracebacks and dlt's log (requests made, steps)")
    parser.add_argument("--quiet", action="store_true", help="print only errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        module = _import_optional(name)
        if module is not None:
            module.register(subparsers)
    return parser


def _import_optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def main(argv: Sequence[str] | None = None) -> int:
    # Files and folders this run creates (the DuckDB file and its .wal, dlt's working
    # files, exports, logs) are its owner's only, whatever the caller's umask; the
    # previous umask is restored for callers that run main() in-process.
    previous_umask = os.umask(PRIVATE_UMASK)
    try:
        return _main(argv)
    finally:
        os.umask(previous_umask)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    # Global flags are accepted after the subcommand too (`run --verbose`).
    argv = list(sys.argv[1:] if argv is None else argv)
    flags = [a for a in argv if a in ("--verbose", "--quiet")]
    try:
        args = parser.parse_args([*flags, *(a for a in argv if a not in flags)])
    except SystemExit as exc:  # --help, or a usage error already printed in one line
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.verbose:
        os.environ["RUNTIME__LOG_LEVEL"] = "INFO"
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return _call(func, args)


def _call(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    from extract.config import ConfigError

    try:
        return func(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (ConfigError, _UsageError) as exc:
        _report(str(exc), args)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - turned into one line below
        from extract.errors import BudgetStopped, unexpected

        message = _explain(exc, args) or unexpected(exc)
        _report(message, args)
        summary = getattr(exc, "summary", None)
        if summary and getattr(args, "summary", None):
            args.summary.write_text(json.dumps(summary, indent=2, default=str) + "\n")
        return EXIT_BUDGET if isinstance(exc, BudgetStopped) else EXIT_ERROR


def _explain(exc: BaseException, args: argparse.Namespace) -> str | None:
    from extract.errors import explain

    return explain(exc, tuple(getattr(args, "_secrets", ())))


def _report(message: str, args: argparse.Namespace) -> None:
    from extract.errors import report

    report(message, verbose=args.verbose, secrets=getattr(args, "_secrets", ()))
