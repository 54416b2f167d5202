"""Progress of a run while it reads the CRM."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from extract.freshsales import RunContext
from extract.freshsales import settings as fs_settings

INTERVAL_ENV = "CRM_PROGRESS_INTERVAL_S"
DEFAULT_INTERVAL_S = 30.0


class ProgressPrinter:
    """Progress on stderr while a run reads the CRM.

    On a terminal one line is rewritten twice a second (records and pages per
    entity). Elsewhere (cron, CI logs) every `interval` seconds (env
    CRM_PROGRESS_INTERVAL_S, default 30) each view being read gets a line of
    its own, so a long run's log shows it moving.
    """

    def __init__(self, ctx: RunContext, stream: IO[str] | None = None,
                 interval: float | None = None) -> None:
        self._ctx = ctx
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._interval = 0.5 if self._tty else (interval or _interval())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._started = time.monotonic()

    def __enter__(self) -> ProgressPrinter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._tty:
            self._stream.write("\r" + self.line() + "\n")
            self._stream.flush()

    def line(self) -> str:
        stats = self._ctx.stats
        with stats.lock:
            parts = [
                f"{table} {stats.records[table]:,} rec/{stats.pages[table]:,} pages"
                for table in fs_settings.ENTITIES if table in stats.pages
            ]
            retries = stats.retries
        return f"extract {self._elapsed():5.1f}s  " + "  ".join(parts) + f"  retries {retries}"

    def view_lines(self) -> list[str]:
        """One line a view: how far it is, for logs."""
        stats = self._ctx.stats
        with stats.lock:
            views = sorted(stats.pages_read.items())
            totals = dict(stats.pages_total)
        return [
            f"progress {self._elapsed():.0f}s {view}: page {page:,} of {totals.get(view, 0):,}"
            for view, page in views
        ]

    def _elapsed(self) -> float:
        return time.monotonic() - self._started

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            if self._tty:
                self._stream.write("\r" + self.line() + "\x1b[K")
            else:
                self._stream.writelines(line + "\n" for line in self.view_lines())
            self._stream.flush()


def _interval() -> float:
    try:
        value = float(os.environ.get(INTERVAL_ENV) or DEFAULT_INTERVAL_S)
    except ValueError:
        return DEFAULT_INTERVAL_S
    return value if value > 0 else DEFAULT_INTERVAL_S


@contextmanager
def maybe_progress(ctx: RunContext, enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    with ProgressPrinter(ctx):
        yield
