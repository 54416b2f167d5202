"""What a run reports: the summary dict, its human-readable form, the budget line."""

from __future__ import annotations

import resource
import time
from datetime import datetime
from typing import Any

import dlt

from extract.freshsales import RunContext
from extract.freshsales import settings as fs_settings


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


def raw_counts(pipeline: dlt.Pipeline, tables: list[str],
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


def summarize(
    pipeline: dlt.Pipeline, ctx: RunContext, destination: str, dataset: str, base_url: str,
    crm_key: str | None, started: float, started_at: datetime, finished: int,
    full_refresh: bool, row_counts: dict[str, int], selected: list[str] | None = None,
) -> dict[str, Any]:
    stats = ctx.stats
    duration = time.monotonic() - started
    tables = list(fs_settings.OBJECTS)
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
        "objects": [t for t in tables if selected is None or t in selected],
        "views": dict(ctx.views),
        "scan_mode": dict(ctx.scans),
        "lists": list_reports(ctx),
        "skipped": dict(ctx.skipped),
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
        "raw_counts": raw_counts(pipeline, tables, distinct_ids=destination == "filesystem"),
        "pending_packages_finished": finished,
        "step_s": step_durations(pipeline.last_trace),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "errors": list(ctx.errors),
    }


def list_reports(ctx: RunContext) -> dict[str, dict[str, Any]]:
    """Per list without views (tasks, ...): swept or read incrementally, its list
    requests, whether the sweep was complete and how many rows it marked deleted."""
    reports: dict[str, dict[str, Any]] = {}
    for entity in fs_settings.LIST_ENDPOINTS:
        if entity not in ctx.views:
            continue
        sweep = ctx.sweeps.get(entity, {})
        requests = sum(n for view, n in ctx.stats.list_requests.items()
                       if view.split("/", 1)[0] == entity)
        reports[entity] = {
            "read": "swept" if sweep.get("swept") else "incremental",
            "list_requests": requests,
            "sweep_complete": bool(sweep.get("complete")),
            "marked_deleted": int(sweep.get("marked_deleted", 0)),
        }
    return reports


def step_durations(trace: Any) -> dict[str, float]:
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
        lines.append(f"  {table:<23} {count:>10,} rows in raw  ({loaded:,} written this run)")
    for module, why in summary.get("skipped", {}).items():
        lines.append(f"  {module}: skipped, {why}")
    for entity, report in summary.get("lists", {}).items():
        how = report["read"]
        if how == "swept":
            how = ("swept in full" if report["sweep_complete"]
                   else "sweep incomplete, nothing marked deleted")
        marked = (f", {report['marked_deleted']:,} marked deleted"
                  if report["marked_deleted"] else "")
        lines.append(f"  {entity}: {how} ({report['list_requests']:,} list requests{marked})")
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
        lines.append(f"    {view:<34} {count:>6,} list requests  {mode}")
    return "\n".join(lines)
