"""Append-only audit log of every write the tools send to the CRM (JSON lines)."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
from pathlib import Path
from typing import Any

from extract.config import REPO_ROOT

DEFAULT_AUDIT_LOG = "logs/audit.jsonl"


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


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def append(path: Path, entry: dict[str, Any]) -> None:
    """Append one line and flush it to disk before the next request goes out."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "who": who(),
        **{k: _plain(v) for k, v in entry.items()},
    }
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
