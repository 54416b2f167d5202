"""Write-back to the CRM: `update-value` (the original scripts/update_domain_value)
and `upsert` (the bulk form of the original update_one / update_many).

Every check happens before the first write: the file parses strictly, fields
exist in the mart contract, values cast to the column's type and enum and meet
the marts' rules (ranges, foreign keys that exist; extract/tools/rules.py),
the column maps to a writable Freshsales field (contract section 6), selector
labels resolve to an id, and the audit log can be written.

`upsert` is safe to rerun: a row whose business key is not in the marts is
looked up in the CRM itself (filtered search) and in the audit log's finished
creates before it is created, so a second run of the same file updates
instead of creating twice.

Then one request per record, write-ahead: the intended change goes to the
audit log (flushed to disk) before its request, the outcome after it. Each
outcome is printed, and the records that changed are re-synced into raw.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from extract.tools import audit, rules
from extract.tools.changes_file import read_changes
from extract.tools.contract import (
    API_WRAPPERS,
    BUSINESS_KEYS,
    ENTITIES,
    RAW_TABLES,
    ColumnSpec,
    FieldSource,
    active_preset,
    cast_value,
    check_entity,
    field_sources,
    mart_contract,
    require_column,
)
from extract.tools.crm import WriteClient, WriteError, client_from_settings
from extract.tools.db import (
    Database,
    ToolError,
    connect,
    one_line_errors,
    quote_ident,
    raw_schema,
)
from extract.tools.lookup import select_rows

READ_ONLY_FIELDS = {"id", "created_at", "updated_at"}
CUSTOM_PREFIX = "custom_field__"


@dataclass
class Change:
    """One record to write: its CRM id (None: create) and old/new canonical values."""

    entity: str
    crm_id: int | None
    key: Any
    old: dict[str, Any]
    new: dict[str, Any]
    body: dict[str, Any] = field(default_factory=dict)
    fingerprint: str | None = None  # of a create: what it sets
    found_in: str = "marts"  # where the record was found: marts, crm, audit log

    @property
    def request(self) -> tuple[str, str]:
        if self.crm_id is None:
            return "POST", RAW_TABLES[self.entity]
        return "PUT", f"{RAW_TABLES[self.entity]}/{self.crm_id}"

    @property
    def action(self) -> str:
        if self.crm_id is None:
            return "create"
        return "update" if self.body else "unchanged"

    def label(self) -> str:
        key_name = BUSINESS_KEYS[self.entity]
        where = f" {self.crm_id}" if self.crm_id is not None else ""
        return f"{self.entity}{where} ({key_name} {_show(self.key)})"


@dataclass
class Outcome:
    change: Change
    ok: bool
    error: str | None = None
    crm_id: int | None = None
    status: int = 0  # HTTP status of a failed request (0: no answer)


def _show(value: Any) -> str:
    return "null" if value is None else str(value)


# ------------------------------------------------------------------ mapping


def writable_source(entity: str, column: str, sources: dict[str, FieldSource]) -> FieldSource:
    """The Freshsales field behind a canonical column, refusing read-only ones."""
    src = sources.get(column)
    if src is None:
        raise ToolError(
            f"{entity}.{column} is computed by the pipeline, not fed by a CRM field;"
            " it cannot be written"
        )
    if src.field in READ_ONLY_FIELDS:
        raise ToolError(
            f"{entity}.{column} comes from the CRM's read-only {src.field!r}"
            f" (preset {active_preset()}); it cannot be written"
        )
    return src


def selector_id(db: Database, selector: str, label: str) -> int:
    """The id of the selector entry named `label` (raw selector table, synced by extract)."""
    table = f"{quote_ident(raw_schema())}.{quote_ident(selector)}"
    try:
        _, rows = db.fetch(f"select id from {table} where name = {db.param}", [label])
    except Exception as exc:  # noqa: BLE001 - a missing table is reported the same way
        first = str(exc).splitlines()[0]
        raise ToolError(f"cannot read {raw_schema()}.{selector}: {first}") from None
    if not rows:
        raise ToolError(f"no {selector} entry named {label!r} in {raw_schema()}.{selector}")
    return int(rows[0][0])


def _api_value(value: Any, custom: bool) -> Any:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return str(value)  # exact; the API sends amounts as decimal strings too
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if custom and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # the original tenant's numeric custom fields are text
    return value


def api_body(
    db: Database, entity: str, values: dict[str, Any], sources: dict[str, FieldSource]
) -> dict[str, Any]:
    """Canonical column values -> a Freshsales request body (without the wrapper)."""
    body: dict[str, Any] = {}
    for column, value in values.items():
        src = writable_source(entity, column, sources)
        if src.selector and value is not None:
            body[src.field] = selector_id(db, src.selector, str(value))
        elif src.field.startswith(CUSTOM_PREFIX):
            name = src.field[len(CUSTOM_PREFIX) :]
            body.setdefault("custom_field", {})[name] = _api_value(value, custom=True)
        elif src.field in rules.INTEGER_FIELDS and value is not None:
            body[src.field] = int(str(value).rstrip("%"))
        else:
            body[src.field] = _api_value(value, custom=False)
    return body


# ------------------------------------------------------------------ planning


def _lenient(spec: ColumnSpec) -> ColumnSpec:
    return ColumnSpec(spec.name, spec.data_type, spec.accepted, not_null=False)


def plan_update_value(
    db: Database, entity: str, key: str, value: str, column: str, new_text: str
) -> list[Change]:
    """The changes `update-value` would send, all checks done, no request made."""
    check_entity(entity)
    specs = mart_contract(entity)
    key_spec = require_column(entity, key, specs)
    key_value = cast_value(entity, _lenient(key_spec), value)
    spec = require_column(entity, column, specs)
    sources = field_sources(entity)
    writable_source(entity, column, sources)
    new_value = rules.checked(db, entity, spec, sources.get(column),
                              cast_value(entity, spec, new_text))
    body = api_body(db, entity, {column: new_value}, sources)
    changes = []
    for row in select_rows(db, entity, [(key, key_value)]):
        unchanged = row[column] == new_value
        changes.append(
            Change(
                entity,
                int(row["id"]),
                row.get(BUSINESS_KEYS[entity]),
                {column: row[column]},
                {column: new_value},
                {} if unchanged else body,
            )
        )
    return changes


def _cast_row(
    db: Database, entity: str, specs: dict[str, ColumnSpec],
    sources: dict[str, FieldSource], line: int, row: dict[str, str],
) -> dict[str, Any]:
    values = {}
    for column, text in row.items():
        spec = require_column(entity, column, specs)
        if text.strip() == "":
            continue  # an empty cell leaves the field as it is
        try:
            values[column] = rules.checked(db, entity, spec, sources.get(column),
                                           cast_value(entity, spec, text))
        except ToolError as exc:
            raise ToolError(f"line {line}: {exc}") from None
    return values


def _required_for_create(
    entity: str, specs: dict[str, ColumnSpec], sources: dict[str, FieldSource]
) -> list[str]:
    return [
        name
        for name, spec in specs.items()
        if spec.not_null and name in sources and sources[name].field not in READ_ONLY_FIELDS
    ]


@dataclass
class _Row:
    line: int
    key: Any
    values: dict[str, Any]
    current: dict[str, Any] | None  # the record in the marts


def plan_upsert(
    db: Database, entity: str, rows: list[tuple[int, dict[str, str]]],
    client: WriteClient, log: audit.AuditLog,
) -> list[Change]:
    """One Change per row: an update of the differing fields, or a create.

    A row whose key is not in the marts is looked up in the CRM (and in the
    audit log's finished creates) before it becomes a create.
    """
    check_entity(entity)
    specs = mart_contract(entity)
    sources = field_sources(entity)
    key = BUSINESS_KEYS[entity]
    seen: dict[Any, int] = {}
    planned = []
    for line, row in rows:
        values = _cast_row(db, entity, specs, sources, line, row)
        key_value = values.pop(key, None)
        if key_value is not None and key_value in seen:
            raise ToolError(f"line {line}: {key} {key_value} is also on line {seen[key_value]}")
        if key_value is not None:
            seen[key_value] = line
        for column in values:
            writable_source(entity, column, sources)
        found = select_rows(db, entity, [(key, key_value)]) if key_value is not None else []
        key_is_crm_id = sources.get(key, FieldSource(key)).field == "id"
        if not found and not (key_is_crm_id and key_value is not None):
            # a create unless the CRM has it: it must be complete, checked now
            _require_for_create(entity, specs, sources, line, key_value, values)
        planned.append(_Row(line, key_value, values, found[0] if found else None))
    in_crm = _look_up(client, entity, sources.get(key, FieldSource(key)),
                      [r for r in planned if r.current is None and r.key is not None])
    created = log.created()
    return [
        _update_from_marts(db, entity, row, sources) if row.current is not None
        else _create_or_update(db, entity, row, sources, in_crm, created)
        for row in planned
    ]


def _require_for_create(entity: str, specs: dict[str, ColumnSpec],
                        sources: dict[str, FieldSource], line: int, key_value: Any,
                        values: dict[str, Any]) -> None:
    key = BUSINESS_KEYS[entity]
    complete = dict(values)
    if sources.get(key, FieldSource(key)).field != "id":
        complete[key] = key_value
    missing = [c for c in _required_for_create(entity, specs, sources)
               if complete.get(c) is None]
    if missing:
        raise ToolError(f"line {line}: a new {entity[:-1]} needs {', '.join(missing)}")


def _update_from_marts(db: Database, entity: str, row: _Row,
                       sources: dict[str, FieldSource]) -> Change:
    current = cast(dict[str, Any], row.current)
    diff = {c: v for c, v in row.values.items() if current[c] != v}
    return Change(entity, int(current["id"]), row.key, {c: current[c] for c in diff}, diff,
                  api_body(db, entity, diff, sources))


def _create_or_update(
    db: Database, entity: str, row: _Row, sources: dict[str, FieldSource],
    in_crm: dict[str, list[int]], created: dict[str, int],
) -> Change:
    """A row the marts do not have: an update of the record the CRM (or a finished
    create of an earlier run) has under its key, else a create."""
    key = BUSINESS_KEYS[entity]
    key_is_crm_id = sources.get(key, FieldSource(key)).field == "id"
    values = dict(row.values)
    if not key_is_crm_id:
        values[key] = row.key
    ids = in_crm.get(str(row.key), []) if row.key is not None else []
    if len(ids) > 1:
        raise ToolError(
            f"line {row.line}: {key} {row.key} names {len(ids)} {entity} in the CRM "
            f"(ids {', '.join(map(str, sorted(ids)))}); resolve the duplicate there first"
        )
    mark = audit.fingerprint(entity, values)
    crm_id = ids[0] if ids else created.get(mark)
    if crm_id is not None:
        body = api_body(db, entity, row.values, sources)
        where = "crm" if ids else "audit log"
        return Change(entity, crm_id, row.key, {}, row.values, body, found_in=where)
    if key_is_crm_id and row.key is not None:
        raise ToolError(f"line {row.line}: no {entity} with CRM id {row.key} to update")
    return Change(entity, None, row.key, {}, values, api_body(db, entity, values, sources),
                  fingerprint=mark)


def _look_up(client: WriteClient, entity: str, key_source: FieldSource,
             rows: list[_Row]) -> dict[str, list[int]]:
    """Business key (as text) -> CRM ids, for the rows the marts do not have."""
    if not rows:
        return {}
    keys = sorted({str(r.key) for r in rows})
    try:
        if key_source.field == "id":
            return {k: [int(k)] for k in keys if _exists(client, entity, int(k))}
        attribute = key_source.field.removeprefix(CUSTOM_PREFIX)
        return client.search(entity, attribute, keys)
    except WriteError as exc:
        raise ToolError(
            f"looking up {len(keys)} {BUSINESS_KEYS[entity]} value(s) in the CRM before "
            f"creating failed ({exc}); nothing was written", code=1,
        ) from None


def _exists(client: WriteClient, entity: str, crm_id: int) -> bool:
    try:
        client.get(entity, crm_id)
    except WriteError as exc:
        if exc.status == 404:
            return False
        raise
    return True


# ------------------------------------------------------------------ applying


def _intent(command: str, change: Change) -> dict[str, Any]:
    sources = field_sources(change.entity)
    method, path = change.request
    return {
        "command": command,
        "entity": change.entity,
        "action": change.action,
        "crm_id": change.crm_id,
        "business_key": change.key,
        "found_in": change.found_in,
        "fingerprint": change.fingerprint,
        "changes": [
            {"field": column,
             "api_field": sources[column].field if column in sources else None,
             "old": change.old.get(column), "new": new}
            for column, new in change.new.items()
        ],
        "request": {"method": method, "path": path,
                    "body": {API_WRAPPERS[change.entity]: change.body}},
    }


def _stop_reason(status: int, error: WriteError | None) -> str | None:
    """Why no further write should be sent after a failed one, or None."""
    if status in (401, 403):
        return f"the CRM refused CRM_API_TOKEN (HTTP {status})"
    if error is not None and error.retry_at is not None:
        return f"the CRM asked to wait: retry after {error.retry_at:%Y-%m-%d %H:%M} UTC"
    return None


def apply_changes(
    client: WriteClient,
    changes: Sequence[Change],
    command: str,
    log: audit.AuditLog,
    say: Callable[[str], None] = print,
) -> list[Outcome]:
    """Send each change, write-ahead: its intent is on disk before its request."""
    outcomes: list[Outcome] = []
    stop: str | None = None  # set when the CRM refused the key or asked to wait
    for change in changes:
        if stop and change.action != "unchanged":
            print(f"FAILED {change.label()}: not sent, {stop}")
            outcomes.append(Outcome(change, False, error=f"not sent, {stop}"))
            continue
        if change.action == "unchanged":
            say(f"unchanged {change.label()}: already {_describe_new(change)}")
            outcomes.append(Outcome(change, True, crm_id=change.crm_id))
            continue
        write = log.intent(_intent(command, change))
        outcome, error = _send_once(client, change)
        log.outcome(write, {"command": command, "entity": change.entity,
                            "result": "ok" if outcome.ok else "failed",
                            "crm_id": outcome.crm_id or change.crm_id,
                            "status": outcome.status or None, "error": outcome.error})
        verb = "created" if change.action == "create" else "updated"
        if outcome.ok:
            where = f" -> id {outcome.crm_id}" if change.action == "create" else ""
            say(f"{verb} {change.label()}{where}: {_describe(change)}")
        else:
            print(f"FAILED {change.label()}: {outcome.error}")  # even with --quiet
            stop = _stop_reason(outcome.status, error)
        outcomes.append(outcome)
    return outcomes


def _send_once(client: WriteClient, change: Change) -> tuple[Outcome, WriteError | None]:
    try:
        if change.crm_id is None:
            record = client.create(change.entity, change.body)
            return Outcome(change, True, crm_id=int(record["id"])), None
        client.update(change.entity, change.crm_id, change.body)
        return Outcome(change, True, crm_id=change.crm_id), None
    except WriteError as exc:
        return Outcome(change, False, error=str(exc), status=exc.status), exc


def _describe(change: Change) -> str:
    if change.found_in != "marts":
        where = "found in the CRM" if change.found_in == "crm" else "created by an earlier run"
        return f"{where}, not in the marts yet; " + _describe_new(change)
    return ", ".join(
        f"{c} {_show(change.old.get(c))} -> {_show(v)}" if change.crm_id else f"{c}={_show(v)}"
        for c, v in change.new.items()
    )


def _describe_new(change: Change) -> str:
    return ", ".join(f"{c}={_show(v)}" for c, v in change.new.items()) or "as in the file"


def summarize(outcomes: Sequence[Outcome], entity: str) -> tuple[str, int]:
    """The closing line and the exit code (1 when any record failed)."""
    counts = {"updated": 0, "created": 0, "unchanged": 0, "failed": 0}
    for o in outcomes:
        key = "failed" if not o.ok else {"update": "updated", "create": "created"}.get(
            o.change.action, "unchanged"
        )
        counts[key] += 1
    line = ", ".join(f"{n} {k}" for k, n in counts.items()) + f" ({len(outcomes)} {entity})"
    failed = [o for o in outcomes if not o.ok]
    if failed:
        ids = ", ".join(o.change.label() for o in failed)
        line += f"; NOT changed: {ids}; rerunning is safe"
    return line, 1 if failed else 0


def confirm(changes: Sequence[Change], entity: str, yes: bool) -> None:
    """Ask before touching more than one record, unless --yes."""
    to_send = [c for c in changes if c.action != "unchanged"]
    if len(to_send) <= 1 or yes:
        return
    if not sys.stdin.isatty():
        raise ToolError(
            f"{len(to_send)} {entity} would change; pass --yes to confirm (no terminal to ask)"
        )
    answer = input(f"Change {len(to_send)} {entity} in the CRM? [y/N] ").strip().lower()
    if answer not in {"y", "yes"}:
        raise ToolError("cancelled; nothing was sent", code=1)


def _request(change: Change) -> str:
    if change.action == "unchanged":
        return "no request"
    method, _ = change.request
    return f"{method} {json.dumps({API_WRAPPERS[change.entity]: change.body}, default=str)}"


def show_plan(changes: Sequence[Change], looked_up: int,
              say: Callable[[str], None] = print) -> None:
    for change in changes:
        verb = {"create": "create", "update": "update", "unchanged": "leave"}[change.action]
        what = _describe(change) if change.action != "unchanged" else _describe_new(change)
        say(f"would {verb} {change.label()}: {what}; {_request(change)}")
    reads = f" ({looked_up} look-up request(s) only)" if looked_up else ""
    say(f"dry run: {len(changes)} record(s) checked, nothing sent to the CRM{reads}")


def finish(
    outcomes: Sequence[Outcome], entity: str, say: Callable[[str], None] = print
) -> int:
    """Summary, then re-sync of what changed into raw; returns the exit code."""
    line, code = summarize(outcomes, entity)
    (print if code else say)(line)
    changed = [
        o.crm_id for o in outcomes if o.ok and o.crm_id and o.change.action != "unchanged"
    ]
    if changed:
        from extract.tools.resync import resync

        try:
            n = resync(entity, changed)
            say(f"re-synced {n} {entity} into {raw_schema()}; `make build` shows them in the marts")
        except ToolError as exc:
            print(
                f"the CRM has the change, but the re-sync into raw failed: {exc};"
                " the next `make extract` picks it up",
                file=sys.stderr,
            )
            code = 1
    return code


# ------------------------------------------------------------------ commands


def _run(
    args: argparse.Namespace,
    command: str,
    plan: Callable[[Database, WriteClient, audit.AuditLog], list[Change]],
    ask: bool = True,
) -> int:
    entity = check_entity(args.domain)
    log = audit.AuditLog(audit.audit_path(args.audit_log))
    client = client_from_settings()
    if not args.dry_run:
        log.check()  # before any request: no write without its trail
    with connect(read_only=True) as db:
        changes = plan(db, client, log)
    if not changes:
        raise ToolError(f"no {entity} match; nothing to change", code=1)
    if args.dry_run:
        show_plan(changes, client.requests_sent)
        return 0
    if ask:
        confirm(changes, entity, args.yes)
    say = _quiet_say if getattr(args, "quiet", False) else print
    outcomes = apply_changes(client, changes, command, log, say)
    return finish(outcomes, entity, say)


def _quiet_say(line: str) -> None:
    """--quiet: successes are silent (failures and the failing summary still print)."""


def run_update_value(args: argparse.Namespace) -> int:
    return _run(
        args,
        "update-value",
        lambda db, client, log: plan_update_value(
            db, args.domain, args.key, args.value, args.key_to_update, args.update_value
        ),
    )


def run_upsert(args: argparse.Namespace) -> int:
    entity = check_entity(args.domain)
    rows = read_changes(Path(args.file), entity)
    # The file lists every record explicitly, so there is nothing to confirm.
    return _run(args, "upsert",
                lambda db, client, log: plan_upsert(db, entity, rows, client, log), ask=False)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--domain", required=True, choices=ENTITIES)
    p.add_argument("--dry-run", action="store_true", help="show what would change; send nothing")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before changing many")
    p.add_argument("--audit-log", help="audit file (default $AUDIT_LOG or logs/audit.jsonl)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "update-value",
        help="set one field on every record matching KEY=VALUE, in the CRM",
        description="The original scripts/update_domain_value: find records in the marts "
        "by --key/--value and set --key-to-update to --update-value in Freshsales.",
    )
    _common(p)
    p.add_argument("--key", required=True, help="mart column to match on, e.g. deal_id")
    p.add_argument("--value", required=True, help="value of --key to match")
    p.add_argument("--key-to-update", required=True, help="mart column to change")
    p.add_argument("--update-value", required=True, help="its new value")
    p.set_defaults(func=one_line_errors(run_update_value))

    u = subparsers.add_parser(
        "upsert",
        help="update or create CRM records from a CSV of mart columns",
        description="Rows whose business key exists (in the marts, else in the CRM itself) "
        "are updated (changed fields only); the others are created with POST, so a rerun of "
        "the same file updates instead of creating twice. Empty cells leave a field as it is.",
    )
    _common(u)
    u.add_argument("--file", required=True,
                   help="CSV whose header names mart columns, or a JSON array of objects "
                   "keyed by them")
    u.set_defaults(func=one_line_errors(run_upsert))
