"""`make bench`: measure the whole pipeline at scale, side by side with the limits.

For each scale (deals; accounts and contacts in the demo's proportion) it
starts a sandbox in its own process and measures, in one run:

- the reference limit: a plain loop fetching every page of the same views with
  the same HTTP client (requests) and parsing the JSON, writing nothing;
- a full extract to DuckDB and to PostgreSQL (wall, records/s, CPU seconds,
  requests, peak RSS of the extractor process);
- `dbt build` full on both, then 1% of the deals changed, an incremental
  extract (wall, requests) and another `dbt build` (wall, and dbt's own
  timing of `deal_aggregations`);
- an export of the marts to CSV and Parquet;
- once, an extract under `--latency-ms 100 --rate-limit 20`: achieved request
  rate against the limit, and 429s received.

With `--scale 1000000` it also multiplies the extracted raw deals by ten in SQL
(new ids, shifted dates) for a 10,000,000-deal `dbt build` on DuckDB.

Results: bench/results.json and bench/results.md (with the machine's cores,
memory and versions). Nothing here asserts a time: the figures are for people.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
PY = sys.executable
DBT = str(Path(sys.executable).with_name("dbt"))
# The sales marts of issue 14 and what feeds them (snapshot, versions), whose
# dbt times results.md lists one by one.
SALES_NODES = ("int_deals_enriched", "deals_snapshot", "int_deal_versions", "deals_enhanced",
               "deal_stage_history", "pipeline_daily", "owner_performance", "sales_snapshot",
               "account_overview", "metricflow_time_spine")
API_KEY = "bench"


# ------------------------------------------------------------------ helpers


def sizes(deals: int) -> dict[str, int]:
    """Accounts and contacts in the demo's proportion (200 : 1000 : 1500)."""
    return {"accounts": max(1, deals * 2 // 15), "contacts": max(1, deals * 2 // 3), "deals": deals}


@contextmanager
def sandbox(deals: int, *extra: str):
    """A sandbox in its own process; yields its base URL."""
    n = sizes(deals)
    cmd = [PY, "-m", "extract.sandbox", "--port", "0", "--api-key", API_KEY, "--seed", "7",
           "--accounts", str(n["accounts"]), "--contacts", str(n["contacts"]),
           "--deals", str(n["deals"]), *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    url = None
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        found = re.search(r"(http://[\d.]+:\d+/crm/sales)", line)
        if found:
            url = found.group(1)
            break
    if url is None:
        proc.kill()
        raise RuntimeError("the sandbox did not print its URL")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_measured(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run a command; wall time, CPU seconds and peak RSS of the process tree."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    output = proc.stdout.read() if proc.stdout else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed ({code}):\n{output[-3000:]}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "output": output,
    }


def base_env(url: str, duckdb_path: Path, raw_schema: str, prefix: str) -> dict[str, str]:
    return dict(
        os.environ,
        CRM_BASE_URL=url,
        CRM_API_TOKEN=API_KEY,
        DUCKDB_PATH=str(duckdb_path),
        RAW_SCHEMA=raw_schema,
        DBT_SCHEMA_PREFIX=prefix,
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        RUNTIME__DLTHUB_TELEMETRY="false",
    )


def extract(env: dict[str, str], destination: str, tag: str, full: bool) -> dict[str, Any]:
    summary_path = WORK / f"summary_{tag}.json"
    cmd = [PY, "-m", "extract", "run", "--destination", destination, "--quiet",
           "--summary", str(summary_path), "--pipelines-dir", str(WORK / "pipelines")]
    if full:
        cmd.append("--full-refresh")
    measured = run_measured(cmd, env)
    summary = json.loads(summary_path.read_text())
    records = summary["records_fetched_total"]
    return {
        "wall_s": measured["wall_s"],
        "cpu_s": measured["cpu_s"],
        "peak_rss_mb": measured["peak_rss_mb"],
        "records": records,
        "records_per_s": round(records / measured["wall_s"], 0),
        "list_requests": summary["list_requests_total"],
        "requests": summary["requests_total"],
        "retries": summary["retries"],
        "status_429": summary["status_429"],
        "list_requests_per_view": summary["list_requests"],
        "extractor_duration_s": summary["duration_s"],
        "step_s": summary.get("step_s", {}),
        "rows_loaded": sum(summary.get("rows_loaded", {}).values()),
        "load_rows_per_s": _rate(sum(summary.get("rows_loaded", {}).values()),
                                 summary.get("step_s", {}).get("load")),
    }


def _rate(rows: int, seconds: float | None) -> int | None:
    return int(rows / seconds) if seconds else None


def dbt_build(env: dict[str, str], target: str, tag: str, full: bool) -> dict[str, Any]:
    target_path = WORK / f"target_{tag}"
    cmd = [DBT, "build", "--target", target, "--target-path", str(target_path),
           "--project-dir", str(ROOT), "--profiles-dir", str(ROOT), "--log-path",
           str(WORK / "logs"), "--quiet"]
    if full:
        cmd.append("--full-refresh")
    measured = run_measured(cmd, env)
    results = json.loads((target_path / "run_results.json").read_text())
    per_model = {
        r["unique_id"].split(".")[-1]: round(r["execution_time"], 3)
        for r in results["results"] if r["unique_id"].startswith(("model.", "snapshot."))
    }
    return {
        "wall_s": measured["wall_s"],
        "peak_rss_mb": measured["peak_rss_mb"],
        "dbt_elapsed_s": round(results["elapsed_time"], 2),
        "deal_aggregations_s": per_model.get("deal_aggregations"),
        "models_s": per_model,
    }


def reference_loop(url: str) -> dict[str, Any]:
    """Fetch every page of the views the extractor reads, parse, write nothing."""
    from extract.freshsales import settings as fs
    from extract.freshsales.paging import pick_views

    session = requests.Session()
    session.headers["Authorization"] = f"Token token={API_KEY}"
    api = url.rstrip("/") + "/api"
    pages = records = 0
    start = time.monotonic()
    for entity in fs.VIEW_ENTITIES:
        filters = orjson.loads(session.get(f"{api}/{entity}/filters").content)["filters"]
        available = {f["name"]: f["id"] for f in filters}
        views = pick_views(entity, available, fs.ALL_VIEWS[entity], fs.FALLBACK_VIEWS[entity],
                           fs.RECYCLE_BIN)
        view_ids = [v.id for v in views]
        include = fs.INCLUDES[entity]
        for view_id in view_ids:
            page = 1
            while True:
                params: dict[str, Any] = {"page": page, "per_page": 100, "sort": "updated_at",
                          "sort_type": "desc"}
                params["include"] = include
                body = orjson.loads(session.get(f"{api}/{entity}/view/{view_id}",
                                                params=params).content)
                rows = body.get(entity) or []
                pages += 1
                records += len(rows)
                if not rows or page >= body.get("meta", {}).get("total_pages", 0):
                    break
                page += 1
    # The lists without views (tasks, appointments, sales activities): every
    # filter to its empty page or its last one, as the extractor's first sync.
    for endpoint, filters_of in fs.LIST_ENDPOINTS.items():
        for _, query in filters_of:
            page = 1
            while True:
                params = {**query, "page": page, "per_page": 100, "sort": "updated_at",
                          "sort_type": "desc"}
                body = orjson.loads(session.get(f"{api}/{endpoint}", params=params).content)
                rows = body.get(endpoint) or []
                pages += 1
                records += len(rows)
                total_pages = body.get("meta", {}).get("total_pages")
                if not rows or (total_pages is not None and page >= total_pages):
                    break
                page += 1
    wall = time.monotonic() - start
    return {"wall_s": round(wall, 2), "pages": pages, "records": records,
            "records_per_s": round(records / wall, 0), "pages_per_s": round(pages / wall, 1)}


def mutate(url: str, entity: str, count: int) -> list[int]:
    response = requests.post(f"{url.rstrip('/')}/admin/mutate",
                             headers={"Authorization": f"Token token={API_KEY}"},
                             json={"entity": entity, "count": count}, timeout=60)
    response.raise_for_status()
    return response.json()["ids"]


def export(env: dict[str, str], tag: str) -> dict[str, Any]:
    out = WORK / f"export_{tag}"
    shutil.rmtree(out, ignore_errors=True)
    figures: dict[str, Any] = {}
    for fmt in ("csv", "parquet"):
        measured = run_measured([PY, "-m", "extract", "export", "--out", str(out),
                                 "--format", fmt, "--quiet"], env)
        figures[fmt] = {"wall_s": measured["wall_s"], "peak_rss_mb": measured["peak_rss_mb"]}
    return figures


def drop_pg_schemas(prefix: str, raw_schema: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host=os.environ.get("PGHOST", "127.0.0.1"),
                            port=int(os.environ.get("PGPORT", "5432")),
                            user=os.environ.get("PGUSER", "postgres"),
                            dbname=os.environ.get("PGDATABASE", "postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("select nspname from pg_namespace where nspname like %s or nspname = %s",
                    (prefix + "%", raw_schema))
        for (name,) in cur.fetchall():
            cur.execute(f'drop schema if exists "{name}" cascade')
    conn.close()


# ------------------------------------------------------------------ one scale


def bench_scale(deals: int, with_postgres: bool, dbt_postgres: bool = True) -> dict[str, Any]:
    tag = f"{deals}"
    result: dict[str, Any] = {"deals": deals, **{k: v for k, v in sizes(deals).items()
                                                 if k != "deals"}}
    duck = WORK / f"bench_{tag}.duckdb"
    for suffix in ("", ".wal"):
        Path(str(duck) + suffix).unlink(missing_ok=True)
    shutil.rmtree(WORK / "pipelines", ignore_errors=True)
    raw_schema, prefix = f"bench_raw_{tag}", f"bench_{tag}_"
    if with_postgres:
        drop_pg_schemas(prefix, raw_schema)
    with sandbox(deals) as url:
        env_duck = base_env(url, duck, "raw", "")
        env_pg = base_env(url, duck, raw_schema, prefix)
        print(f"[{deals:,}] reference loop", flush=True)
        result["reference"] = reference_loop(url)
        print(f"[{deals:,}] full extract -> duckdb", flush=True)
        result["extract_duckdb_full"] = extract(env_duck, "duckdb", f"{tag}_duck_full", True)
        if with_postgres:
            print(f"[{deals:,}] full extract -> postgres", flush=True)
            result["extract_postgres_full"] = extract(env_pg, "postgres", f"{tag}_pg_full", True)
        print(f"[{deals:,}] dbt build (full)", flush=True)
        result["dbt_duckdb_full"] = dbt_build(env_duck, "duckdb", f"{tag}_duck_full", True)
        if with_postgres and dbt_postgres:
            result["dbt_postgres_full"] = dbt_build(env_pg, "postgres", f"{tag}_pg_full", True)
        changed = max(1, deals // 100)
        print(f"[{deals:,}] change {changed:,} deals, incremental runs", flush=True)
        mutate(url, "deals", changed)
        result["changed_deals"] = changed
        result["extract_duckdb_incremental"] = extract(env_duck, "duckdb", f"{tag}_duck_inc",
                                                       False)
        if with_postgres:
            result["extract_postgres_incremental"] = extract(env_pg, "postgres",
                                                             f"{tag}_pg_inc", False)
        result["dbt_duckdb_incremental"] = dbt_build(env_duck, "duckdb", f"{tag}_duck_inc",
                                                     False)
        if with_postgres and dbt_postgres:
            result["dbt_postgres_incremental"] = dbt_build(env_pg, "postgres", f"{tag}_pg_inc",
                                                           False)
        print(f"[{deals:,}] export", flush=True)
        result["export_duckdb"] = export(env_duck, tag)
    result["ratios"] = ratios(result)
    if with_postgres:
        drop_pg_schemas(prefix, raw_schema)
    return result


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    def div(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a is not None and b else None

    out: dict[str, Any] = {
        "extract_duckdb_vs_reference": div(r["extract_duckdb_full"]["wall_s"],
                                           r["reference"]["wall_s"]),
        "list_requests_per_100_records": div(100 * r["extract_duckdb_full"]["list_requests"],
                                             r["extract_duckdb_full"]["records"]),
        "extract_duckdb_in_process_vs_reference": div(
            r["extract_duckdb_full"]["extractor_duration_s"], r["reference"]["wall_s"]),
        "incremental_vs_full_extract": div(r["extract_duckdb_incremental"]["wall_s"],
                                           r["extract_duckdb_full"]["wall_s"]),
    }
    if "extract_postgres_full" in r:
        out["extract_postgres_vs_reference"] = div(r["extract_postgres_full"]["wall_s"],
                                                   r["reference"]["wall_s"])
    return out


def bench_rate_limit() -> dict[str, Any]:
    """Extract under 100 ms latency and a 20 requests/s limit."""
    duck = WORK / "bench_ratelimit.duckdb"
    duck.unlink(missing_ok=True)
    with sandbox(20_000, "--latency-ms", "100", "--rate-limit", "20") as url:
        env = base_env(url, duck, "raw", "")
        figures = extract(env, "duckdb", "ratelimit", True)
    # the rate while requests are made: dlt's extract step, not the load after it
    fetching_s = figures["step_s"].get("extract") or figures["extractor_duration_s"]
    achieved = figures["requests"] / fetching_s
    return {"limit_rps": 20, "latency_ms": 100, "requests": figures["requests"],
            "achieved_rps": round(achieved, 2), "share_of_limit": round(achieved / 20, 3),
            "status_429": figures["status_429"], "wall_s": figures["wall_s"]}


def bench_ten_million(source_duckdb: Path) -> dict[str, Any]:
    """Multiply 1M extracted deals by ten in SQL, then time a full dbt build."""
    import duckdb

    target = WORK / "bench_10m.duckdb"
    shutil.copy(source_duckdb, target)
    con = duckdb.connect(str(target))
    cols = [c[0] for c in con.execute("describe raw.deals").fetchall()]
    shifted = []
    for c in cols:
        if c == "id":
            # beyond every sandbox id range (1.6e10 to 2.5e10): a copy's id
            # must not be another entity's, rejected_records keys on both
            shifted.append("id + k * 100000000000 as id")
        elif c == "custom_field__cf_deal_id":
            shifted.append(f"cast(cast({c} as bigint) + k * 10000000 as varchar) as {c}")
        elif c in ("created_at", "updated_at"):
            shifted.append(f"{c} - to_days(k * 30) as {c}")
        else:
            shifted.append(c)
    con.execute(f"""
        insert into raw.deals
        select {', '.join(shifted)}
        from raw.deals, range(1, 10) as r(k)
        where try_cast(custom_field__cf_deal_id as bigint) is not null
    """)
    (n,) = con.execute("select count(*) from raw.deals").fetchone()
    con.close()
    env = base_env("http://unused", target, "raw", "")
    figures = dbt_build(env, "duckdb", "10m", True)
    figures["raw_deals"] = n
    # The same raw in DuckDB 2's own storage format (DUCKDB_STORAGE_VERSION=
    # latest; the default file stays readable by DuckDB 1.x clients).
    latest = WORK / "bench_10m_latest.duckdb"
    latest.unlink(missing_ok=True)
    con = duckdb.connect()  # in memory: the progress bar is a session setting here
    con.execute("set enable_progress_bar = false")
    con.execute(f"attach '{target}' as compatible (read_only)")
    con.execute(f"attach '{latest}' as latest (storage_version 'latest')")
    con.execute("copy from database compatible to latest")
    con.close()
    target.unlink()
    env = base_env("http://unused", latest, "raw", "")
    env["DUCKDB_STORAGE_VERSION"] = "latest"
    figures["storage_latest"] = dbt_build(env, "duckdb", "10m_latest", True)
    latest.unlink()
    return figures


# ------------------------------------------------------------------ report


def machine() -> dict[str, Any]:
    return {
        "cores": psutil.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        **{pkg: version(pkg) for pkg in ("dlt", "duckdb", "dbt-core", "dbt-duckdb",
                                         "dbt-postgres")},
    }


def steal_share(before: Any, after: Any) -> float | None:
    """The share of the machine's CPU time the hypervisor gave to other guests
    between two `psutil.cpu_times()` (Linux only; None elsewhere). A busy host
    makes every figure of a run slower, so results.md prints it."""
    if not hasattr(before, "steal"):
        return None
    total = sum(after) - sum(before)
    return round((after.steal - before.steal) / total, 3) if total > 0 else None


def render(results: dict[str, Any], previous: dict[str, Any] | None = None) -> str:
    """The tables of results.md; each scale's column is followed by the same
    scale's figures from `previous` (the file this run replaces), if any."""
    m = results["machine"]
    lines = ["# Benchmark results", "",
             f"Run {results['finished_at']} on {m['cores']} cores, {m['memory_gb']} GiB, "
             f"Python {m['python']}, dlt {m['dlt']}, DuckDB {m['duckdb']}, "
             f"dbt-core {m['dbt-core']} (dbt-duckdb {m['dbt-duckdb']}, "
             f"dbt-postgres {m['dbt-postgres']}).", "",
             "Generated by `make bench`; re-run it to compare a change. Times are wall "
             "seconds unless marked.", ""]
    if m.get("cpu_steal_share") is not None:
        lines[-1:-1] = ["", f"CPU time taken by the hypervisor for other guests during the run "
                        f"(steal): {m['cpu_steal_share']:.1%}. A run on a busier host is "
                        "slower in every figure; compare ratios across runs."]
    before = {s["deals"]: s for s in (previous or {}).get("scales", [])}
    columns: list[tuple[str, dict[str, Any]]] = []
    for current in results["scales"]:
        columns.append((f"{current['deals']:,} deals", current))
        if current["deals"] in before:
            earlier = before[current["deals"]]
            columns.append((f"previous run ({earlier.get('finished_at')})", earlier))
    scales = [scale for _, scale in columns]
    header = "| measure | " + " | ".join(label for label, _ in columns) + " |"
    lines += [header, "|---" * (len(scales) + 1) + "|"]

    def row(label: str, getter) -> None:
        cells = []
        for s in scales:
            try:
                value = getter(s)
            except (KeyError, TypeError, AttributeError):  # a previous run's other keys
                value = None
            cells.append("-" if value is None else f"{value:,}" if isinstance(value, int)
                         else str(value))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("records (all entities)", lambda s: s["reference"]["records"])
    row("reference loop: s", lambda s: s["reference"]["wall_s"])
    row("reference loop: records/s", lambda s: int(s["reference"]["records_per_s"]))
    row("extract -> DuckDB: s", lambda s: s["extract_duckdb_full"]["wall_s"])
    row("extract -> DuckDB: records/s", lambda s: int(s["extract_duckdb_full"]["records_per_s"]))
    row("extract -> DuckDB: CPU s", lambda s: s["extract_duckdb_full"]["cpu_s"])
    row("extract -> DuckDB: peak RSS MB", lambda s: s["extract_duckdb_full"]["peak_rss_mb"])
    row("extract -> DuckDB: load step rows/s",
        lambda s: s["extract_duckdb_full"]["load_rows_per_s"])
    row("extract -> DuckDB: list requests", lambda s: s["extract_duckdb_full"]["list_requests"])
    row("extract -> DuckDB: s inside the process (no start-up)",
        lambda s: s["extract_duckdb_full"]["extractor_duration_s"])
    row("extract / reference (process wall)",
        lambda s: s["ratios"]["extract_duckdb_vs_reference"])
    row("extract / reference (inside the process)",
        lambda s: s["ratios"]["extract_duckdb_in_process_vs_reference"])
    row("list requests per 100 records",
        lambda s: s["ratios"]["list_requests_per_100_records"])
    row("extract -> PostgreSQL: s", lambda s: s["extract_postgres_full"]["wall_s"])
    row("extract -> PostgreSQL: records/s",
        lambda s: int(s["extract_postgres_full"]["records_per_s"]))
    row("extract -> PostgreSQL: load step rows/s",
        lambda s: s["extract_postgres_full"]["load_rows_per_s"])
    row("extract -> PostgreSQL: peak RSS MB", lambda s: s["extract_postgres_full"]["peak_rss_mb"])
    row("changed deals (1%)", lambda s: s["changed_deals"])
    row("incremental extract DuckDB: s", lambda s: s["extract_duckdb_incremental"]["wall_s"])
    row("incremental extract: list requests",
        lambda s: s["extract_duckdb_incremental"]["list_requests"])
    row("incremental / full extract", lambda s: s["ratios"]["incremental_vs_full_extract"])
    row("dbt build DuckDB full: s", lambda s: s["dbt_duckdb_full"]["wall_s"])
    row("dbt build DuckDB full: dbt elapsed s", lambda s: s["dbt_duckdb_full"]["dbt_elapsed_s"])
    row("dbt build DuckDB after 1% changed: s", lambda s: s["dbt_duckdb_incremental"]["wall_s"])
    row("dbt build DuckDB after 1% changed: dbt elapsed s",
        lambda s: s["dbt_duckdb_incremental"]["dbt_elapsed_s"])
    row("deal_aggregations (a table) full: s",
        lambda s: s["dbt_duckdb_full"]["deal_aggregations_s"])
    row("deal_aggregations (a table) after 1% changed: s",
        lambda s: s["dbt_duckdb_incremental"]["deal_aggregations_s"])
    for node in SALES_NODES:
        row(f"{node} full: s", lambda s, n=node: s["dbt_duckdb_full"]["models_s"].get(n))
    row("sales marts and their inputs, after 1% changed: s (sum)", lambda s: round(sum(
        s["dbt_duckdb_incremental"]["models_s"].get(n) or 0 for n in SALES_NODES), 2))
    row("dbt build PostgreSQL full: s", lambda s: s["dbt_postgres_full"]["wall_s"])
    row("dbt build PostgreSQL after 1% changed: s",
        lambda s: s["dbt_postgres_incremental"]["wall_s"])
    row("export marts CSV: s", lambda s: s["export_duckdb"]["csv"]["wall_s"])
    row("export marts Parquet: s", lambda s: s["export_duckdb"]["parquet"]["wall_s"])
    if results.get("rate_limit"):
        rl = results["rate_limit"]
        lines += ["", "## Under a rate limit", "",
                  f"Sandbox with --latency-ms {rl['latency_ms']} --rate-limit {rl['limit_rps']}: "
                  f"{rl['requests']} requests at {rl['achieved_rps']} requests/s "
                  f"({rl['share_of_limit']:.0%} of the limit), {rl['status_429']} 429s."]
    if results.get("ten_million"):
        tm = results["ten_million"]
        lines += ["", "## 10,000,000 deals (raw multiplied in SQL from the 1,000,000 extract)",
                  "", f"dbt build DuckDB full: {tm['wall_s']} s wall, dbt elapsed "
                  f"{tm['dbt_elapsed_s']} s, deal_aggregations {tm['deal_aggregations_s']} s, "
                  f"sales marts and their inputs "
                  f"{round(sum(tm['models_s'].get(n) or 0 for n in SALES_NODES), 2)} s, "
                  f"peak RSS {tm['peak_rss_mb']} MB ({tm['raw_deals']:,} raw deals)."]
        if tm.get("storage_latest"):
            lt = tm["storage_latest"]
            lines += ["", "The same build on a file in DuckDB 2's own storage format "
                      f"(`DUCKDB_STORAGE_VERSION=latest`): {lt['wall_s']} s wall, dbt elapsed "
                      f"{lt['dbt_elapsed_s']} s, deal_aggregations {lt['deal_aggregations_s']} s,"
                      f" peak RSS {lt['peak_rss_mb']} MB."]
        old = (previous or {}).get("ten_million")
        if old:
            lines += ["", f"Previous run ({old.get('finished_at')}): "
                      f"{old.get('wall_s')} s wall, dbt elapsed {old.get('dbt_elapsed_s')} s, "
                      f"deal_aggregations {old.get('deal_aggregations_s')} s."]
    return "\n".join(lines) + "\n"


def previous_results(folder: Path) -> dict[str, Any] | None:
    """The latest earlier figures of each scale, from every results*.json in
    `folder` (a run of other scales than the default writes its own file)."""
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("results*.json"))]
    if not runs:
        return None
    runs.sort(key=lambda run: run.get("finished_at", ""))
    scales = {scale["deals"]: {**scale, "finished_at": run.get("finished_at")}
              for run in runs for scale in run.get("scales", [])}
    ten_million = next(({**run["ten_million"], "finished_at": run.get("finished_at")}
                        for run in reversed(runs) if "ten_million" in run), None)
    return {"finished_at": runs[-1].get("finished_at"), "scales": list(scales.values()),
            **({"ten_million": ten_million} if ten_million else {})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, action="append",
                        help="deals (repeatable); default 10000 and 100000")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-rate-limit", action="store_true")
    parser.add_argument("--skip-dbt-postgres", action="store_true",
                        help="extract to PostgreSQL but build dbt on DuckDB only (at 1,000,000"
                             " deals the two PostgreSQL builds take longer than all the rest)")
    args = parser.parse_args(argv)
    scales = args.scale or [10_000, 100_000]
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": machine(), "scales": []}
    cpu_before = psutil.cpu_times()
    out = ROOT / "bench"
    suffix = "" if scales == [10_000, 100_000] else "_" + "_".join(str(s) for s in scales)
    path = out / f"results{suffix}.json"
    previous = previous_results(out)

    def save() -> None:
        """Write what was measured so far: a later step that fails (the
        10,000,000-deal build takes the longest) keeps the figures before it."""
        results["finished_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        results["machine"]["cpu_steal_share"] = steal_share(cpu_before, psutil.cpu_times())
        path.write_text(json.dumps(results, indent=2) + "\n")
        (out / f"results{suffix}.md").write_text(render(results, previous))

    for deals in scales:
        results["scales"].append(bench_scale(deals, not args.skip_postgres,
                                             not args.skip_dbt_postgres))
        save()
        if deals >= 1_000_000:
            print("[10,000,000] dbt build on raw multiplied in SQL", flush=True)
            results["ten_million"] = bench_ten_million(WORK / f"bench_{deals}.duckdb")
            save()
    if not args.skip_rate_limit:
        print("[rate limit] extract under --latency-ms 100 --rate-limit 20", flush=True)
        results["rate_limit"] = bench_rate_limit()
    save()
    print(render(results, previous))
    return 0


if __name__ == "__main__":
    sys.exit(main())
