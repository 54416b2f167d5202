"""What the export tests share."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path


def export_day(folder: Path) -> str:
    """The day (UTC) an export in `folder` ran, read off its files' names: the
    export names them by the day it runs, which for a test run that crosses
    midnight is not the day the tests started."""
    days = {p.name[:10] for p in folder.iterdir() if re.match(r"\d{4}-\d{2}-\d{2}_", p.name)}
    assert len(days) == 1, days
    (day,) = days
    today = dt.datetime.now(dt.UTC).date()
    assert day in {today.isoformat(), (today - dt.timedelta(days=1)).isoformat()}
    return day
