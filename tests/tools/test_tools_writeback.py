"""update-value and upsert against the sandbox: the CRM changes, raw follows,
the next `dbt build` shows it in the marts; bad input sends nothing."""

from __future__ import annotations

import contextlib
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

World = Any  # tests/tools/conftest.py: World


def run_main(*args: str) -> tuple[int, str, str]:
    """The CLI in-process, for module-scoped fixtures (no capsys there)."""
    from extract.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def audit_lines(world: World) -> list[dict[str, Any]]:
    if not world.audit_log.exists():
        return []
    return [json.loads(line) for line in world.audit_log.read_text().splitlines()]


def audit_writes(world: World) -> list[dict[str, Any]]:
    """One row a write: its intent joined with its outcome (what `audit` lists)."""
    from extract.tools.audit import AuditLog, writes

    return writes(AuditLog(world.audit_log))


def crm_deal_by_key(world: World, deal_id: str) -> dict[str, Any] | None:
    state = world.sandbox.state
    for i in range(state.count("deals")):
        deal = state.get("deals", i)
        if deal["custom_field"].get("cf_deal_id") == deal_id:
            return deal
    return None


def probability(world: World, crm_id: int) -> str:
    return world.crm_record("deals", crm_id)["custom_field"]["cf_probability_of_closure"]


def _free_deals(world: World, n: int, skip: int = 0) -> list[tuple[int, int]]:
    """(CRM id, deal_id) of deals outside the failing deal's account."""
    return world.query(
        "select id, deal_id from marts.deals where account_id <> ? order by id limit ? offset ?",
        [world.fail_account, n, skip],
    )


UPDATE_AT = 0  # offsets into _free_deals, so the tests never touch the same record
UPSERT_AT = 1
DRY_AT = 3
VANILLA_AT = 4
NEW_DEAL_ID = "900001"


@pytest.fixture(scope="module")
def written(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """update-value on one deal, upsert of one update + one create, then `dbt build`."""
    (crm_a, deal_a), = _free_deals(world, 1, UPDATE_AT)
    (crm_b, deal_b), = _free_deals(world, 1, UPSERT_AT)
    account = world.query("select account_id from marts.accounts order by 1 limit 1")[0][0]
    update = run_main(
        "update-value", "--domain", "deals", "--key", "deal_id", "--value", str(deal_a),
        "--key-to-update", "deal_size", "--update-value", "24456",
    )
    changes = tmp_path_factory.mktemp("upsert") / "changes.csv"
    changes.write_text(
        "deal_id,deal_name,deal_size,probability_of_closure,deal_stage,account_id\n"
        f"{deal_b},,30000.5,,negotiation,\n"
        f"{NEW_DEAL_ID},New logo,12000.25,40%,Prospecting,{account}\n"
    )
    upsert = run_main("upsert", "--domain", "deals", "--file", str(changes))
    raw_a = world.query("select amount from raw.deals where id = ?", [crm_a])
    world.dbt_build()
    return {"update": update, "upsert": upsert, "a": (crm_a, deal_a), "b": (crm_b, deal_b),
            "account": account, "raw_a": raw_a}


def test_update_value_changes_the_crm_then_raw_then_the_marts(
    world: World, written: dict[str, Any]
) -> None:
    code, out, err = written["update"]
    crm_a, deal_a = written["a"]
    assert code == 0, err
    assert f"updated deals {crm_a} (deal_id {deal_a}): deal_size" in out
    assert "-> 24456.00" in out and "1 updated" in out
    assert world.crm_record("deals", crm_a)["amount"] == "24456.00"
    assert written["raw_a"] == [(Decimal("24456"),)]  # re-synced before any dbt build
    assert world.query("select deal_size from marts.deals where id = ?", [crm_a]) == [
        (Decimal("24456.00"),)
    ]


def test_upsert_updates_existing_and_creates_missing(world: World, written: dict[str, Any]) -> None:
    code, out, err = written["upsert"]
    crm_b, deal_b = written["b"]
    assert code == 0, err
    assert "1 updated, 1 created" in out
    created = crm_deal_by_key(world, NEW_DEAL_ID)
    assert created is not None and created["name"] == "New logo"
    assert created["amount"] == "12000.25"
    assert created["custom_field"]["cf_account_id"] == str(written["account"])
    assert f"-> id {created['id']}" in out
    updated = world.crm_record("deals", crm_b)
    assert (updated["amount"], updated["custom_field"]["cf_deal_stage"]) == ("30000.50",
                                                                            "Negotiation")
    marts = world.query(
        "select deal_id, deal_name, deal_size, deal_stage, probability_of_closure, account_id"
        " from marts.deals where deal_id in (?, ?) order by deal_id", [deal_b, int(NEW_DEAL_ID)]
    )
    assert marts[0][2:4] == (Decimal("30000.50"), "Negotiation")
    assert marts[1] == (int(NEW_DEAL_ID), "New logo", Decimal("12000.25"), "Prospecting", "40%",
                        written["account"])


def test_every_write_is_in_the_audit_log(world: World, written: dict[str, Any]) -> None:
    crm_a, deal_a = written["a"]
    rows = audit_writes(world)
    first = next(r for r in rows if r["crm_id"] == crm_a and r["command"] == "update-value")
    assert first["result"] == "ok" and first["who"] and first["at"] and first["finished_at"]
    (change,) = first["changes"]
    assert change["field"] == "deal_size" and change["api_field"] == "amount"
    assert change["new"] == "24456.00" and change["old"] not in (None, "24456.00")
    assert first["request"] == {"method": "PUT", "path": f"deals/{crm_a}",
                                "body": {"deal": {"amount": "24456.00"}}}
    (created,) = [r for r in rows if r["action"] == "create"]
    assert {c["field"] for c in created["changes"]} >= {"deal_id", "deal_name", "deal_stage"}
    assert created["business_key"] == int(NEW_DEAL_ID)
    assert all(c["old"] is None for c in created["changes"])
    assert created["crm_id"] == crm_deal_by_key(world, NEW_DEAL_ID)["id"]
    events = [(e["event"], e["write"]) for e in audit_lines(world)]
    intent = events.index(("intent", first["write"]))
    assert events[intent + 1] == ("outcome", first["write"])  # written ahead, then the result


def test_dry_run_sends_nothing(world: World, cli: Any) -> None:
    (crm_id, deal_id), = _free_deals(world, 1, DRY_AT)
    before = world.crm_record("deals", crm_id)
    writes = len(world.writes())
    result = cli("update-value", "--domain", "deals", "--key", "deal_id", "--value", str(deal_id),
                 "--key-to-update", "deal_stage", "--update-value", "Closed-Lost", "--dry-run")
    assert result.code == 0, result.err
    assert f"deals {crm_id} (deal_id {deal_id})" in result.out
    assert "nothing sent" in result.out
    assert len(world.writes()) == writes
    assert world.crm_record("deals", crm_id) == before


@pytest.mark.parametrize(
    ("key", "value", "field", "new", "message"),
    [
        ("deal_id", "100001", "deal_colour", "red", "deals has no field 'deal_colour'"),
        ("deal_key", "100001", "deal_size", "1", "deals has no field 'deal_key'"),
        ("deal_id", "100001", "deal_size", "lots", "deals.deal_size is numeric(18,2): 'lots'"),
        ("deal_id", "100001", "deal_size", "1.005", "more than 2 decimal places"),
        ("deal_id", "abc", "deal_size", "1", "deals.deal_id is bigint: 'abc' does not cast"),
        ("deal_id", "100001", "deal_stage", "Won", "deals.deal_stage takes Prospecting"),
        ("deal_id", "100001", "created_at", "2024-01-01T00:00:00", "cannot be written"),
        ("deal_id", "100001", "deal_name", "", "deals.deal_name cannot be empty"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    world: World, cli: Any, key: str, value: str, field: str, new: str, message: str
) -> None:
    calls = len(world.calls)
    result = cli("update-value", "--domain", "deals", "--key", key, "--value", value,
                 "--key-to-update", field, "--update-value", new)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]
    assert len(world.calls) == calls  # not a single request, not even a GET


def test_no_match_is_reported(world: World, cli: Any) -> None:
    result = cli("update-value", "--domain", "deals", "--key", "deal_id", "--value", "1",
                 "--key-to-update", "deal_size", "--update-value", "1")
    assert result.code == 1
    assert "no deals match" in result.err


def test_many_matches_without_yes_and_without_a_terminal_are_refused(world: World) -> None:
    writes = len(world.writes())
    result = world.cli_subprocess(
        "update-value", "--domain", "deals", "--key", "account_id",
        "--value", str(world.fail_account), "--key-to-update", "probability_of_closure",
        "--update-value", "1%",
    )
    assert result.code == 2
    assert "pass --yes to confirm" in result.err
    assert len(world.writes()) == writes


def test_partial_failure_reports_both_sides_and_rerun_is_safe(world: World, cli: Any) -> None:
    args = ("update-value", "--domain", "deals", "--key", "account_id",
            "--value", str(world.fail_account), "--key-to-update", "probability_of_closure",
            "--update-value", "55%", "--yes")
    ids = [r[0] for r in world.query("select id from marts.deals where account_id = ?",
                                     [world.fail_account])]
    before_fail = world.crm_record("deals", world.fail_deal)
    n_deals = world.sandbox.state.count("deals")

    result = cli(*args)
    assert result.code == 1
    assert f"FAILED deals {world.fail_deal}" in result.out
    assert f"NOT changed: deals {world.fail_deal}" in result.out
    others = [i for i in ids if i != world.fail_deal]
    for crm_id in others:
        assert f"updated deals {crm_id}" in result.out
        assert probability(world, crm_id) == "55%"
    assert world.crm_record("deals", world.fail_deal) == before_fail
    failed = [r for r in audit_writes(world) if r["result"] == "failed"]
    assert failed and failed[-1]["crm_id"] == world.fail_deal and "HTTP 400" in failed[-1]["error"]
    assert world.query(
        "select count(*) from raw.deals where id in (" + ",".join(map(str, others)) + ")"
        " and custom_field__cf_probability_of_closure = '55%'"
    ) == [(len(others),)]

    again = cli(*args)
    assert again.code == 1 and f"FAILED deals {world.fail_deal}" in again.out
    assert world.sandbox.state.count("deals") == n_deals  # nothing duplicated
    for crm_id in others:
        assert probability(world, crm_id) == "55%"


def test_selector_column_is_written_as_the_selector_id(
    world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_PRESET", "vanilla")
    (crm_id, deal_id), = _free_deals(world, 1, VANILLA_AT)
    stage_id = world.query("select id from raw.deal_stages where name = 'Closed-Won'")[0][0]
    result = cli("update-value", "--domain", "deals", "--key", "deal_id", "--value", str(deal_id),
                 "--key-to-update", "deal_stage", "--update-value", "closed-won")
    assert result.code == 0, result.out + result.err
    assert world.crm_record("deals", crm_id)["deal_stage_id"] == stage_id


def test_upsert_dry_run_and_bad_files_send_nothing(world: World, cli: Any, tmp_path: Path) -> None:
    (_, deal_id), = _free_deals(world, 1, DRY_AT)
    calls = len(world.calls)
    good = tmp_path / "good.csv"
    good.write_text(f"deal_id,deal_size\n{deal_id},77\n900777,\n")
    result = cli("upsert", "--domain", "deals", "--file", str(good), "--dry-run")
    assert result.code == 2 and "line 3: a new deal needs deal_name" in result.err
    good.write_text(f"deal_id,deal_size\n{deal_id},77\n")
    result = cli("upsert", "--domain", "deals", "--file", str(good), "--dry-run")
    assert result.code == 0, result.err
    assert "-> 77.00" in result.out and '"amount": "77.00"' in result.out
    bad = {
        "deal_id,deal_stage\n1,Won\n": "line 2: deals.deal_stage takes",
        "deal_id,colour\n1,red\n": "line 1: 'colour' is not a column of mart deals",
        "deal_name\nx\n": "line 1: the header has no deal_id column",
        f"deal_id,deal_size\n{deal_id},1\n{deal_id},2\n": "line 3: deal_id",
        "deal_id,updated_at\n1,2024-01-01T00:00:00\n": "cannot be written",
    }
    for text, message in bad.items():
        path = tmp_path / "bad.csv"
        path.write_text(text)
        result = cli("upsert", "--domain", "deals", "--file", str(path))
        assert result.code == 2, text
        assert message in result.err, (text, result.err)
    assert len(world.calls) == calls


def test_a_refused_api_key_stops_the_batch_and_is_never_printed(
    world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_API_TOKEN", "not-the-key-s3cret")
    writes = len(world.writes())
    result = cli("update-value", "--domain", "deals", "--key", "deal_stage",
                 "--value", "Closed-Lost", "--key-to-update", "probability_of_closure",
                 "--update-value", "1%", "--yes")
    assert result.code == 1
    assert "HTTP 401" in result.out
    assert "not sent, the CRM refused CRM_API_TOKEN (HTTP 401)" in result.out
    assert "s3cret" not in result.out + result.err
    assert "s3cret" not in world.audit_log.read_text()
    assert len(world.writes()) == writes + 1  # the first PUT, then nothing more


def test_many_matches_ask_on_a_terminal_and_no_sends_nothing(world: World) -> None:
    import os
    import pty
    import subprocess
    import sys

    writes = len(world.writes())
    leader, follower = pty.openpty()
    os.write(leader, b"n\n")  # the answer waits in the terminal's input
    done = subprocess.run(
        [sys.executable, "-m", "extract", "update-value", "--domain", "deals", "--key",
         "account_id", "--value", str(world.fail_account), "--key-to-update",
         "probability_of_closure", "--update-value", "2%"],
        stdin=follower, capture_output=True, text=True, timeout=120,
    )
    os.close(leader)
    os.close(follower)
    assert done.returncode == 1
    assert "cancelled; nothing was sent" in done.stderr
    assert len(world.writes()) == writes
