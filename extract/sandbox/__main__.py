"""``python -m extract.sandbox``: run the sandbox CRM in the foreground."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from .config import FOREIGN_CURRENCY_SHARE, SandboxConfig
from .server import start

DEFAULT_KEY = "demo"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m extract.sandbox",
        description="Serve a Freshsales-compatible sandbox CRM under /crm/sales/api/.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    p.add_argument("--api-key", default=None,
                   help=f"key clients send as 'Authorization: Token token=<key>' "
                        f"(default: env SANDBOX_API_KEY, else {DEFAULT_KEY!r})")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--accounts", type=int, default=200)
    p.add_argument("--contacts", type=int, default=1000)
    p.add_argument("--deals", type=int, default=1500)
    p.add_argument("--activities-per-deal", type=float, default=3.0, metavar="N",
                   help="sales activities per deal (default 3)")
    p.add_argument("--tasks-per-deal", type=float, default=1.5, metavar="N",
                   help="tasks per deal (default 1.5)")
    p.add_argument("--appointments-per-deal", type=float, default=0.5, metavar="N",
                   help="appointments per deal (default 0.5)")
    p.add_argument("--leads", type=int, default=None,
                   help="number of leads (default: half the contacts)")
    p.add_argument("--no-leads", action="store_true",
                   help="no leads module: every leads/... path answers 404, like "
                        "contacts-based tenants")
    p.add_argument("--foreign-currency-share", type=float, default=FOREIGN_CURRENCY_SHARE,
                   metavar="P",
                   help="share of deals in EUR, GBP or INR instead of the base currency USD "
                        f"(0..1, default {FOREIGN_CURRENCY_SHARE:g}: every deal in USD)")
    p.add_argument("--dirt-rate", type=float, default=0.05,
                   help="share of records carrying dirt (0..0.5; default 0.05)")
    p.add_argument("--no-all-deals", action="store_true",
                   help="do not list the 'All Deals' view (some real tenants lack it)")
    p.add_argument("--view-names", nargs="+", action="extend", default=[], metavar="KEY=NAME",
                   help="rename views, e.g. 'deals:open=Open Opportunities' "
                        "(keys: <module>:all|mine|deleted, deals:open|won|lost)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="sleep before each answer")
    p.add_argument("--rate-limit", type=int, default=0,
                   help="API requests per window (see --rate-window-s) before 429 "
                        "(0 = no limit)")
    p.add_argument("--max-per-page", type=int, default=100, metavar="N",
                   help="largest page served whatever per_page asks (1..100, default 100; "
                        "meta.total_pages counts pages of this size)")
    p.add_argument("--rate-window-s", type=float, default=1.0, metavar="SECONDS",
                   help="length of the fixed rate-limit window, aligned to the Unix epoch "
                        "(default 1; 3600 with --rate-limit 1000 acts like Freshsales' "
                        "hourly budget)")
    p.add_argument("--fail-rate", type=float, default=0.0,
                   help="share of API requests answered 500/502/503")
    p.add_argument("--fail-ids", default="",
                   help="comma-separated record ids whose PUT always fails")
    p.add_argument("--fail-ids-status", type=int, default=400, choices=(400, 500),
                   help="status of those failures (default 400)")
    p.add_argument("--manifest", default=None, metavar="PATH",
                   help="write the dirt manifest (JSON lines) to PATH")
    p.add_argument("--access-log", action="store_true", help="log each request to stderr")
    return p


def config_from_args(argv: Sequence[str] | None = None) -> SandboxConfig:
    args = parser().parse_args(argv)
    names = {}
    for pair in args.view_names:
        key, sep, name = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--view-names wants KEY=NAME, got {pair!r}")
        names[key.strip()] = name.strip()
    try:
        fail_ids = frozenset(int(x) for x in args.fail_ids.split(",") if x.strip())
    except ValueError:
        raise ValueError("--fail-ids wants comma-separated integer ids") from None
    return SandboxConfig(
        host=args.host, port=args.port,
        api_key=args.api_key or os.environ.get("SANDBOX_API_KEY") or DEFAULT_KEY,
        seed=args.seed, accounts=args.accounts, contacts=args.contacts, deals=args.deals,
        activities_per_deal=args.activities_per_deal, tasks_per_deal=args.tasks_per_deal,
        appointments_per_deal=args.appointments_per_deal, leads=args.leads,
        leads_module=not args.no_leads, foreign_currency_share=args.foreign_currency_share,
        dirt_rate=args.dirt_rate, all_deals_view=not args.no_all_deals, view_names=names,
        latency_ms=args.latency_ms, rate_limit=args.rate_limit,
        rate_window_s=args.rate_window_s, max_per_page=args.max_per_page, fail_rate=args.fail_rate,
        fail_ids=fail_ids, fail_ids_status=args.fail_ids_status, manifest=args.manifest,
        access_log=args.access_log,
    )


def _stop(*_: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = config_from_args(argv)
        _, server = start(config)
    except (ValueError, OSError) as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    key = config.api_key if config.api_key == DEFAULT_KEY else "as given"
    sizes = server.store.gen.sizes
    leads = f"{sizes['leads']} leads" if config.leads_module else "no leads module"
    print(f"Sandbox CRM serving {server.base_url} (api key: {key}; "
          f"{config.accounts} accounts, {config.contacts} contacts, {config.deals} deals, "
          f"{sizes['sales_activities']} sales activities, {sizes['tasks']} tasks, "
          f"{sizes['appointments']} appointments, {leads}, seed {config.seed}). "
          f"Ctrl-C stops it.", flush=True)
    if config.manifest:
        print(f"Dirt manifest written to {config.manifest}", flush=True)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("Sandbox CRM stopped.", flush=True)
    finally:
        server.server_close()
    return 0


def run() -> int:
    try:
        return main()
    except KeyboardInterrupt:  # Ctrl-C while generating: leave quietly
        print("Sandbox CRM stopped.", file=sys.stderr)
        return 0


if __name__ == "__main__":
    sys.exit(run())
