"""The write-back tools are safe to rerun and always leave a trail.

Against the session's sandbox (tests/tools/conftest.py) and, where the CRM must
misbehave, a fault-injecting proxy in front of it: each test shows the CRM was
not touched, or touched exactly once, and that the audit log is complete.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from extract.tools.audit import AuditLog, writes
from tests.extract.faultproxy import Rule, fault_proxy

World = Any  # tests/tools/conftest.py: World

OFFSET = 40  # deals of this file: far from those test_tools_writeback.py changes


def _deals(world: World, n: int, skip: int = 0) -> list[tuple[int, int]]:
    """(CRM id, deal_id) of deals outside the failing deal's account."""
    return world.query(
        "select id, deal_id from marts.deals where account_id <> ? order by id limit ? offset ?",
        [world.fail_account, n, OFFSET + skip],
    )


def _crm_deals_with_key(world: World, deal_id: str) -> list[dict[str, Any]]:
    state = world.sandbox.state
    deals = (state.get("deals", i) for i in range(state.count("deals")))
    return [d for d in deals if d["custom_field"].get("cf_deal_id") == deal_id]


def _one_line(result: Any, code: int = 2) -> str:
    assert result.code == code, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    return lines[0]


@pytest.fixture
def audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An audit log of this test's own."""
    path = tmp_path / "audit" / "audit.jsonl"
    monkeypatch.setenv("AUDIT_LOG", str(path))
    return path


@pytest.fixture
def proxy(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The tools talk to the sandbox through a fault-injecting proxy."""
    with fault_proxy(world.sandbox.base_url) as running:
        monkeypatch.setenv("CRM_BASE_URL", running.base_url)
        yield running


# ---------------------------------------------------------------- idempotent upsert


def test_upsert_twice_before_any_build_creates_once_then_updates(
    world: World, cli: Any, tmp_path: Path, audit_log: Path
) -> None:
    account = world.query("select account_id from marts.accounts order by 1 limit 1")[0][0]
    changes = tmp_path / "new.csv"
    changes.write_text("deal_id,deal_name,deal_size,probability_of_closure,deal_stage,"
                       f"account_id\n900201,Twice,1000,40,Prospecting,{account}\n")
    def creates() -> int:
        return sum(1 for m, path in world.writes() if m == "POST" and path.endswith("/deals"))

    posts = creates()

    first = cli("upsert", "--domain", "deals", "--file", str(changes))
    assert first.code == 0, first.err
    assert "0 updated, 1 created" in first.out
    second = cli("upsert", "--domain", "deals", "--file", str(changes))
    assert second.code == 0, second.err
    assert "1 updated, 0 created" in second.out
    assert "found in the CRM, not in the marts yet" in second.out

    (deal,) = _crm_deals_with_key(world, "900201")
    assert (deal["name"], deal["custom_field"]["cf_probability_of_closure"]) == ("Twice", "40%")
    assert creates() == posts + 1
    rows = writes(AuditLog(audit_log))
    assert [(r["action"], r["result"], r["crm_id"]) for r in rows] == [
        ("create", "ok", deal["id"]), ("update", "ok", deal["id"])]
    assert rows[1]["found_in"] == "crm"


def test_a_create_the_crms_search_does_not_show_yet_is_found_in_the_audit_log(
    world: World, cli: Any, proxy: Any, tmp_path: Path, audit_log: Path
) -> None:
    """Search indexes lag: the audit log's finished creates are looked at too."""
    account = world.query("select account_id from marts.accounts order by 1 limit 1")[0][0]
    changes = tmp_path / "new.json"
    changes.write_text(json.dumps([{"deal_id": 900203, "deal_name": "Not indexed yet",
                                    "deal_size": 5.5, "deal_stage": "Prospecting",
                                    "account_id": account, "probability_of_closure": "10%"}]))
    proxy.add_rule(Rule(r"/api/filtered_search/deal$", status=200,
                        body={"deals": [], "meta": {"total": 0, "total_pages": 0}}))
    first = cli("upsert", "--domain", "deals", "--file", str(changes))
    assert first.code == 0, first.out + first.err
    created = int(re.search(r"-> id (\d+)", first.out).group(1))
    count = world.sandbox.state.count("deals")
    again = cli("upsert", "--domain", "deals", "--file", str(changes))
    assert again.code == 0, again.out + again.err
    assert f"updated deals {created}" in again.out and "created by an earlier run" in again.out
    assert world.sandbox.state.count("deals") == count
    assert world.crm_record("deals", created)["amount"] == "5.50"


def test_a_lost_answer_to_a_create_is_in_the_log_and_the_rerun_finds_the_record(
    world: World, cli: Any, proxy: Any, tmp_path: Path, audit_log: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRM_REQUEST_TIMEOUT_S", "1")
    account = world.query("select account_id from marts.accounts order by 1 limit 1")[0][0]
    changes = tmp_path / "lost.csv"
    changes.write_text("deal_id,deal_name,deal_size,probability_of_closure,deal_stage,"
                       f"account_id\n900202,Lost answer,1,5%,Prospecting,{account}\n")
    # The CRM creates the deal, but its answer never arrives in time.
    proxy.add_rule(Rule(r"/api/deals$", method="POST", times=1, delay_s=3))
    first = cli("upsert", "--domain", "deals", "--file", str(changes))
    assert first.code == 1
    assert "the create may or may not have reached the CRM" in first.out
    (pending,) = writes(AuditLog(audit_log))
    assert pending["result"] == "failed" and pending["request"]["method"] == "POST"
    again = cli("upsert", "--domain", "deals", "--file", str(changes))
    assert again.code == 0, again.out + again.err
    (deal,) = _crm_deals_with_key(world, "900202")
    assert f"updated deals {deal['id']}" in again.out


# ---------------------------------------------------------------- write-ahead audit


def test_an_unwritable_audit_log_sends_nothing(
    world: World, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the log's folder should be")
    monkeypatch.setenv("AUDIT_LOG", str(blocker / "audit.jsonl"))
    (crm_id, deal_id), = _deals(world, 1)
    calls = len(world.calls)
    line = _one_line(cli("update-value", "--domain", "deals", "--key", "deal_id",
                         "--value", str(deal_id), "--key-to-update", "deal_size",
                         "--update-value", "11"))
    assert line == (f"error: cannot write the audit log {blocker / 'audit.jsonl'} ({blocker} "
                    "is a file, not a folder); nothing was sent to the CRM (set --audit-log "
                    "or AUDIT_LOG to a writable file)")
    assert len(world.calls) == calls


def test_a_full_disk_under_the_audit_log_stops_before_the_request(
    world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIT_LOG", "/dev/full")  # opens, but every write is ENOSPC
    (crm_id, deal_id), = _deals(world, 1)
    before = world.crm_record("deals", crm_id)
    writes_before = len(world.writes())
    line = _one_line(cli("update-value", "--domain", "deals", "--key", "deal_id",
                         "--value", str(deal_id), "--key-to-update", "deal_size",
                         "--update-value", "12"), code=1)
    assert line == (f"error: cannot write the audit log /dev/full (disk full) before "
                    f"update-value deals {crm_id}; nothing more was sent to the CRM")
    assert len(world.writes()) == writes_before
    assert world.crm_record("deals", crm_id) == before


def test_the_audit_command_lists_who_what_and_the_result(
    world: World, cli: Any, audit_log: Path
) -> None:
    (crm_id, deal_id), = _deals(world, 1, 1)
    done = cli("update-value", "--domain", "deals", "--key", "deal_id", "--value",
               str(deal_id), "--key-to-update", "deal_name", "--update-value", "Audited")
    assert done.code == 0, done.err
    listed = cli("audit", "--last", "1")
    assert listed.code == 0
    (line,) = listed.out.strip().splitlines()
    assert re.search(rf"update-value  update deals {crm_id} \({deal_id}\)  deal_name .+ -> "
                     r"Audited  => ok$", line), line
    as_json = json.loads(cli("audit", "--format", "json").out.strip().splitlines()[-1])
    assert as_json["request"] == {"method": "PUT", "path": f"deals/{crm_id}",
                                  "body": {"deal": {"name": "Audited"}}}
    assert stat.S_IMODE(os.stat(audit_log).st_mode) == 0o600


# ---------------------------------------------------------------- the marts' rules


@pytest.mark.parametrize(("field", "value", "message"), [
    ("probability_of_closure", "banana",
     "deals.probability_of_closure is a whole percentage from 0 to 100 (e.g. 40%); "
     "got 'banana'"),
    ("probability_of_closure", "150%", "whole percentage from 0 to 100"),
    ("account_id", "999999",
     "deals.account_id 999999 names no record of marts.accounts (account_id)"),
    ("deal_size", "1e999", "deals.deal_size is numeric(18,2): '1e999' does not cast"),
])
def test_values_breaking_the_marts_rules_are_refused_before_any_request(
    world: World, cli: Any, field: str, value: str, message: str
) -> None:
    (_, deal_id), = _deals(world, 1, 2)
    calls = len(world.calls)
    line = _one_line(cli("update-value", "--domain", "deals", "--key", "deal_id",
                         "--value", str(deal_id), "--key-to-update", field,
                         "--update-value", value))
    assert message in line
    assert len(world.calls) == calls


def test_a_percentage_is_written_in_the_crms_format(world: World, cli: Any) -> None:
    (crm_id, deal_id), = _deals(world, 1, 3)
    done = cli("update-value", "--domain", "deals", "--key", "deal_id", "--value",
               str(deal_id), "--key-to-update", "probability_of_closure", "--update-value", "35")
    assert done.code == 0, done.err
    assert world.crm_record("deals", crm_id)["custom_field"]["cf_probability_of_closure"] == \
        "35%"


def test_a_broken_changes_file_sends_nothing(world: World, cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text('deal_id,deal_name\n900301,"Unclosed\n900302,Two\n900303,Three\n')
    calls = len(world.calls)
    line = _one_line(cli("upsert", "--domain", "deals", "--file", str(path)))
    assert "line 2: a quote is not closed" in line
    path.write_bytes("deal_id,deal_name\n900304,Caf\xe9\n".encode("latin-1"))
    line = _one_line(cli("upsert", "--domain", "deals", "--file", str(path)))
    assert "line 2: byte 0xe9 is not UTF-8; save it as UTF-8" in line
    assert len(world.calls) == calls


# ---------------------------------------------------------------- the CRM answering oddly


def test_a_long_retry_after_says_when_to_retry_and_stops_the_batch(
    world: World, cli: Any, proxy: Any, audit_log: Path
) -> None:
    deals = _deals(world, 2, 4)
    path = audit_log.parent / "two.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("deal_id,deal_name\n" + "".join(f"{d},Retry {d}\n" for _, d in deals))
    proxy.add_rule(Rule(r"/api/deals/\d+$", method="PUT", status=503,
                        body={"errors": {"code": 503, "message": ["maintenance"]}},
                        headers={"Retry-After": "3600"}))
    writes_before = len(world.writes())
    result = cli("upsert", "--domain", "deals", "--file", str(path))
    assert result.code == 1
    first, second = deals
    assert re.search(rf"FAILED deals {first[0]} \(deal_id {first[1]}\): HTTP 503: the CRM asks "
                     r"to wait 3600 s \(Retry-After\); retry after \d{4}-\d\d-\d\d \d\d:\d\d "
                     "UTC", result.out), result.out
    assert f"FAILED deals {second[0]} (deal_id {second[1]}): not sent, the CRM asked to " \
        "wait: retry after" in result.out
    assert len(world.writes()) == writes_before  # the proxy answered; the CRM saw nothing
    assert [r["result"] for r in writes(AuditLog(audit_log))] == ["failed"]


@pytest.mark.parametrize(("body", "message"), [
    ({"deal": {"name": "no id here"}}, "HTTP 200: the answer's 'deal' record has no id"),
    ([{"id": 1}], "HTTP 200: the answer has no 'deal' record (a JSON list)"),
])
def test_an_odd_answer_to_a_write_is_one_line_and_in_the_log(
    world: World, cli: Any, proxy: Any, audit_log: Path, body: Any, message: str
) -> None:
    (crm_id, deal_id), = _deals(world, 1, 6)
    proxy.add_rule(Rule(r"/api/deals/\d+$", method="PUT", status=200, body=body))
    result = cli("update-value", "--domain", "deals", "--key", "deal_id", "--value",
                 str(deal_id), "--key-to-update", "deal_name", "--update-value", "Odd")
    assert result.code == 1
    assert f"FAILED deals {crm_id} (deal_id {deal_id}): {message}" in result.out
    assert "Traceback" not in result.err and "unexpected" not in result.err
    (row,) = writes(AuditLog(audit_log))
    assert row["result"] == "failed" and message in row["error"]


def test_find_and_its_limit_refuse_bad_input_in_one_line(world: World, cli: Any) -> None:
    line = _one_line(cli("find", "deals", "--where", "deal_size=1e999"))
    assert re.search(r"deals.deal_size is (numeric|decimal)\(18,2\): '1e999' does not cast "
                     r"\(out of range\)", line), line
    line = _one_line(cli("find", "deals", "--limit", "-1"))
    assert line == ("error: argument --limit: must be 1 or more, got -1 "
                    "(see `python -m extract find --help`)")
