"""`make demo`: the main job end to end on DuckDB, against the demo sandbox.

sandbox (in-process, free port) -> dlt extract into DUCKDB_PATH -> `dbt build`
-> a short summary of the marts (rows per table, rejected records by reason).
It never touches a real CRM, whatever `.env` says: the sandbox is the source.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from extract.config import REPO_ROOT, ConfigError, load_settings

MARTS = ("accounts", "contacts", "deals", "deal_aggregations", "rejected_records",
         "leads", "tasks", "appointments", "sales_activities", "users",
         "deals_enhanced", "deal_stage_history", "pipeline_daily", "owner_performance",
         "sales_snapshot", "account_overview")


def marts_summary(duckdb_path: Path) -> str:
    """Rows per mart, rejected records by reason and deleted counts, as lines."""
    prefix = os.environ.get("DBT_SCHEMA_PREFIX", "")
    schema, intermediate = f"{prefix}marts", f"{prefix}intermediate"
    import duckdb

    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        lines = [f"Marts in {duckdb_path} (schema {schema}):"]
        for table in MARTS:
            row = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
            count = row[0] if row else 0
            lines.append(f"  {table:<18} {count:>8,} rows")
        currencies = con.execute(
            f"""
            select currency_code, count(*), max(base_currency_code)
            from "{schema}".deals
            group by all
            order by count(*) desc, currency_code
            """
        ).fetchall()
        if currencies:
            base = next((b for _, _, b in currencies if b), "the base currency")
            lines.append(f"Deals by currency (deal_aggregations sums them in {base}):")
            lines.append("  " + ", ".join(f"{code or '?'} {n:,}" for code, n, _ in currencies))
        reasons = con.execute(
            f"""
            select entity, split_part(reason, ':', 1) as kind, count(*)
            from "{schema}".rejected_records
            group by all
            order by entity, kind
            """
        ).fetchall()
        if reasons:
            lines.append("Rejected records by reason:")
            lines += [f"  {e:<17} {k:<17} {n:>6,}" for e, k, n in reasons]
        deleted = con.execute(
            f"""
            select entity, count(*)
            from "{intermediate}".int_records_classified
            where record_status = 'deleted'
            group by entity
            order by entity
            """
        ).fetchall()
        if deleted:
            lines.append("Deleted in the CRM (counted, in no mart):")
            lines += [f"  {e:<17} {n:>6,}" for e, n in deleted]
        return "\n".join(lines)
    finally:
        con.close()


def dbt_build(duckdb_path: Path, extra: list[str] | None = None) -> int:
    """Run `dbt build` on the DuckDB target at the repo root; return its exit code."""
    env = dict(os.environ, DUCKDB_PATH=str(duckdb_path), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    dbt = Path(sys.executable).with_name("dbt")
    cmd = [str(dbt), "build", "--target", "duckdb", "--project-dir", str(REPO_ROOT),
           "--profiles-dir", str(REPO_ROOT), *(extra or [])]
    return subprocess.call(cmd, cwd=REPO_ROOT, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m extract.demo", description=__doc__)
    parser.add_argument("--deals", type=int, default=1500, help="sandbox size (deals)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    from extract.errors import ExtractError, report
    from extract.pipeline import run_extract
    from extract.sandbox import SandboxConfig, serve_in_thread
    from extract.summary import format_summary

    try:
        duckdb_path = load_settings().duckdb_path
    except ConfigError as exc:
        report(str(exc))
        return 2
    scale = max(args.deals / 1500, 1 / 1500)
    config = SandboxConfig(
        seed=args.seed,
        accounts=max(1, round(200 * scale)),
        contacts=max(1, round(1000 * scale)),
        deals=args.deals,
        # the demo tenant sells 30% of its deals in EUR, GBP or INR, so the
        # summary and the marts show the base-currency conversion at work
        foreign_currency_share=0.3,
    )
    with serve_in_thread(config) as sandbox:
        print(f"Demo: sandbox CRM at {sandbox.base_url} (seed {args.seed}, {args.deals} deals)")
        try:
            summary = run_extract(
                destination="duckdb",
                base_url=sandbox.base_url,
                api_key=sandbox.api_key,
                duckdb_path=duckdb_path,
                progress=sys.stderr.isatty(),
            )
        except ExtractError as exc:
            report(str(exc))
            return 1
    print(format_summary(summary))
    code = dbt_build(duckdb_path)
    if code != 0:
        report(f"dbt build failed (exit {code}); see the output above")
        return code
    print(marts_summary(duckdb_path))
    print("Next: `make dashboard` serves the dashboard on http://127.0.0.1:8501 (PORT=...),")
    print("`make docs` the models' docs, or point a BI tool at the marts schema.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
