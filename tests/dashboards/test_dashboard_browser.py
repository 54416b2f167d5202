"""The dashboard as a person sees it: `streamlit run` on a free port, each
page opened in headless Chromium (Debian's package driven by Playwright), its
key figures visible, a screenshot saved; then the static dbt docs site
(`dbt docs generate --static`) opened from file://, a mart page and the
lineage graph drawn. Skips with the reason without Chromium; fails instead
when REQUIRE_BROWSER=1 (CI)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_support import DbtProject
from gates import require_or_skip

from dashboards import browser

# Distinct colours in the lineage graph's canvases: a blank canvas has one.
GRAPH_COLOURS = """() => {
    const seen = new Set();
    for (const canvas of document.querySelectorAll('#cy canvas')) {
        if (!canvas.width || !canvas.height) continue;
        const pixels = canvas.getContext('2d')
            .getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < pixels.length; i += 64) {
            seen.add(pixels.slice(i, i + 4).join(','));
        }
    }
    return seen.size;
}"""


@pytest.fixture(scope="module")
def tab() -> Iterator[Any]:
    require_or_skip(browser.browser_missing(), "REQUIRE_BROWSER", "no browser to test with",
                    "browser tests need Chromium and Playwright ({reason})")
    with browser.browser_page() as page:
        yield page


def figures(path: Path) -> dict[str, str]:
    """Key figures of each page, as the dashboard formats them, from SQL on the marts."""
    with duckdb.connect(str(path), read_only=True) as con:
        def one(sql: str, *params: Any) -> Any:
            return con.execute(sql, list(params)).fetchone()[0]  # type: ignore[index]

        pipeline = one("select sum(deal_size_base) from marts.deals_enhanced"
                       " where stage_category = 'open'")
        last = one("select max(greatest(created_at, updated_at)) from marts.deals")
        value_by_month = one("select sum(total_deal_size) from marts.deal_aggregations"
                             " where aggregation_type = 'monthly'")
        won = one("select sum(won_deal_count) from marts.owner_performance")
        appointments = one(
            "select count(*) from marts.appointments where starts_at >= ? and starts_at < ?",
            one("select min(created_at)::date from marts.deals"), last.date() + timedelta(1))
        open_on_last_day = one(
            "select sum(open_deal_value) from marts.pipeline_daily"
            " where stage_category = 'open' and date_day = (select max(date_day)"
            f" from marts.pipeline_daily where date_day <= '{last}')")
        # the value of the account the page shows first (the top one by deals)
        top_account_value = one(
            "select a.account_value from marts.deals as d join marts.accounts as a"
            " using (account_id) group by a.account_id, a.account_name, a.account_value"
            " order by sum(d.deal_size) desc, a.account_name limit 1")
        return {
            "Overview": f"{pipeline:,.2f}",
            "Deal value over time": f"{value_by_month:,.2f}",
            "Accounts": f"{top_account_value:,.2f}",
            "Owner performance": f"{won:,}",
            "Pipeline over time": f"{open_on_last_day:,.2f}",
            "Stage history": f"{one('select count(*) from marts.deal_stage_history'):,}",
            "Activities": f"{appointments:,}",
            "Data quality": f"{one('select count(*) from marts.rejected_records'):,}",
        }


def test_every_page_shows_its_figures(tab: Any, marts_duckdb: Path, tmp_path: Path) -> None:
    expected = figures(marts_duckdb)
    with browser.serve({"DUCKDB_PATH": str(marts_duckdb), "DBT_TARGET": "duckdb"}) as url:
        for page in browser.PAGES:
            browser.open_page(tab, url, page)
            main = tab.locator("section.stMain, [data-testid='stMain']").first
            assert main.get_by_text(expected[page.title], exact=True).first.is_visible(), page
            assert "Traceback" not in main.inner_text()
            tab.screenshot(path=str(tmp_path / page.screenshot))
            assert (tmp_path / page.screenshot).stat().st_size > 10_000


def test_static_docs_site_renders(tab: Any, marts_duckdb: Path, tmp_path: Path) -> None:
    project = DbtProject(tmp_path / "dbt", env={"DUCKDB_PATH": str(marts_duckdb)})
    project.run("docs", "generate", "--static", "--vars",
                "{dashboard_url: 'http://crm.test:9000', dashboard_owner_name: Sales Ops,"
                " dashboard_owner_email: sales-ops@crm.test}")
    site = (tmp_path / "dbt" / "target" / "static_index.html").as_uri()
    tab.goto(f"{site}#!/overview")
    tab.get_by_text("Where to start", exact=True).first.wait_for()
    tab.goto(f"{site}#!/model/model.crm_management.deals")
    tab.get_by_role("heading", name="deals").first.wait_for()
    columns = tab.locator(".app-details, .app-main").first.inner_text()
    assert "deal_stage" in columns and "Enforced" in columns
    tab.get_by_title("View Lineage Graph").click()
    tab.get_by_text("Lineage Graph", exact=True).first.wait_for()
    tab.wait_for_function(f"() => ({GRAPH_COLOURS})() > 3")
    tab.screenshot(path=str(tmp_path / "docs_lineage.png"))
    # The exposure: the dashboard, its URL and owner from the vars.
    tab.goto(f"{site}#!/exposure/exposure.crm_management.crm_dashboard")
    link = tab.get_by_role("link", name="View this exposure")
    link.wait_for()
    assert link.get_attribute("href") == "http://crm.test:9000"
    assert tab.get_by_text("Sales Ops <sales-ops@crm.test>").first.is_visible()
