"""One run at a time: an exclusive `flock` the kernel drops when its holder dies."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from extract.errors import LockHeld


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """An flock the kernel drops when the holder exits, even on SIGKILL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = open(path, "a+")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            raise LockHeld(
                f"another extract is running ({holder or 'lock ' + str(path)}); "
                "wait for it to finish and run again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"PID {os.getpid()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
        handle.flush()
        yield
    finally:
        handle.close()
