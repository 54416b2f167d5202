"""The write-ahead audit log of every write the tools send to the CRM (JSON lines).

Each write is two lines, both flushed to disk (fsync) when written:

- `intent`, before the request goes out: who, when, the command, the record
  (entity, CRM id, business key), each field's old and new value, and the
  request (method, path, body);
- `outcome`, once the CRM answered (or did not): ok or failed, the CRM id
  (the new id of a create), the HTTP status and the error.

An intent without an outcome is a write whose answer never arrived (a killed
run, a lost connection): the CRM may or may not have it. Creates carry a
fingerprint of what they create, so a rerun of the same file finds the id a
finished create got and updates instead of creating twice.

If the log cannot be written, nothing is sent: `check()` runs before the first
request, and a failing intent stops the run before its request. The file is
created readable by its owner only (0600). `python -m extract audit` lists it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import getpass
import hashlib
import json
import os
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from extract.config import REPO_ROOT
from extract.tools.db import ToolError, one_line_errors, positive_int

DEFAULT_AUDIT_LOG = "logs/audit.jsonl"
PRIVATE = 0o600


def audit_path(override: str | None = None) -> Path:
    """--audit-log, else AUDIT_LOG, else logs/audit.jsonl under the repo root."""
    path = Path(override or os.environ.get("AUDIT_LOG") or DEFAULT_AUDIT_LOG).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def plain(value: Any) -> Any:
    """A value as JSON holds it: dates as ISO text, decimals as exact text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)


def fingerprint(entity: str, values: dict[str, Any]) -> str:
    """Stable id of a create: the entity and the values it sets."""
    text = json.dumps([entity, plain(values)], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class AuditLog:
    """Appends intents and outcomes; reads them back."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def check(self) -> None:
        """Refuse before any request when the log cannot be appended to."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE)
            try:
                if os.fstat(fd).st_uid == os.getuid():
                    os.fchmod(fd, PRIVATE)  # a log made by an older version was 0644
            finally:
                os.close(fd)
        except OSError as exc:
            blocker = next((p for p in self.path.parents if p.exists() and not p.is_dir()), None)
            reason = f"{blocker} is a file, not a folder" if blocker else _reason(exc)
            raise ToolError(
                f"cannot write the audit log {self.path} ({reason}); nothing was sent "
                "to the CRM (set --audit-log or AUDIT_LOG to a writable file)"
            ) from None

    def intent(self, record: dict[str, Any]) -> str:
        write = uuid.uuid4().hex[:16]
        self._append({"event": "intent", "write": write, **record})
        return write

    def outcome(self, write: str, record: dict[str, Any]) -> None:
        self._append({"event": "outcome", "write": write, **record})

    def _append(self, entry: dict[str, Any]) -> None:
        line = {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "who": who(),
            **{k: plain(v) for k, v in entry.items()},
        }
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE)
            try:
                written = os.write(fd, data)
                if written != len(data):
                    raise OSError(errno.ENOSPC, "short write")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            when = "before" if entry["event"] == "intent" else "after"
            raise ToolError(
                f"cannot write the audit log {self.path} ({_reason(exc)}) {when} "
                f"{entry.get('command', 'a write')} {entry.get('entity', '')} "
                f"{entry.get('crm_id') or ''}; nothing more was sent to the CRM",
                code=1,
            ) from None

    def entries(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    raise ToolError(f"{self.path} line {number} is not JSON") from None

    def created(self) -> dict[str, int]:
        """Fingerprint -> CRM id of every create the CRM confirmed."""
        intents: dict[str, str] = {}
        created: dict[str, int] = {}
        for entry in self.entries():
            if entry.get("event") == "intent" and entry.get("fingerprint"):
                intents[entry["write"]] = entry["fingerprint"]
            elif entry.get("event") == "outcome" and entry.get("result") == "ok":
                mark = intents.get(entry.get("write", ""))
                if mark and entry.get("crm_id") is not None:
                    created[mark] = int(entry["crm_id"])
        return created


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "disk full"
    return exc.strerror or type(exc).__name__


# ------------------------------------------------------------------ the `audit` command


def writes(log: AuditLog) -> list[dict[str, Any]]:
    """One row a write: its intent joined with its outcome (or none yet)."""
    rows: dict[str, dict[str, Any]] = {}
    for entry in log.entries():
        write = entry.get("write")
        if entry.get("event") == "intent" and write:
            rows[write] = {**entry, "result": "no answer recorded", "status": None,
                           "error": None}
        elif entry.get("event") == "outcome" and write in rows:
            row = rows[write]
            row.update(result=entry.get("result"), status=entry.get("status"),
                       error=entry.get("error"), finished_at=entry.get("at"))
            row["crm_id"] = entry.get("crm_id") or row.get("crm_id")
    return list(rows.values())


def _line(row: dict[str, Any]) -> str:
    changes = "; ".join(
        f"{c['field']} {_text(c.get('old'))} -> {_text(c.get('new'))}"
        for c in row.get("changes") or []
    )
    error = f" ({row['error']})" if row.get("error") else ""
    return (f"{row['at']}  {row['who']}  {row['command']}  {row['action']} {row['entity']} "
            f"{row.get('crm_id') or '(new)'} ({row.get('business_key')})  {changes}  "
            f"=> {row['result']}{error}")


def _text(value: Any) -> str:
    return "null" if value is None else str(value)


def run(args: argparse.Namespace) -> int:
    log = AuditLog(audit_path(args.audit_log))
    if not log.path.exists():
        raise ToolError(f"no audit log at {log.path} (nothing written yet)", code=1)
    rows = writes(log)
    if args.entity:
        rows = [r for r in rows if r.get("entity") == args.entity]
    if args.unfinished:
        rows = [r for r in rows if r["result"] == "no answer recorded"]
    rows = rows[-args.last:] if args.last else rows
    for row in rows:
        if args.format == "json":
            print(json.dumps(row, ensure_ascii=False))
        else:
            print(_line(row))
    if args.format != "json":
        print(f"({len(rows)} write{'s' if len(rows) != 1 else ''} in {log.path})",
              file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "audit", help="list the writes the tools sent to the CRM (the audit log)",
        description="Every update-value and upsert write: who, when, the record, old and "
        "new values, the request and its result. A write whose answer never arrived "
        "shows 'no answer recorded'.",
    )
    p.add_argument("--audit-log", help="audit file (default $AUDIT_LOG or logs/audit.jsonl)")
    p.add_argument("--entity", choices=("accounts", "contacts", "deals"))
    p.add_argument("--last", type=positive_int, metavar="N", help="only the last N writes")
    p.add_argument("--unfinished", action="store_true",
                   help="only writes whose answer was never recorded")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=one_line_errors(run))
