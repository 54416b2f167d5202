"""Process defaults, set before dlt, pyarrow or DuckDB are imported (the
package's `__init__` imports this module first). Each is an environment
variable, so a user overrides it the usual way."""

from __future__ import annotations

import ctypes
import importlib.abc
import os
import platform
import sys
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
# dlt logs a failing load job with its traceback at every retry; the run's
# one-line error says what happened (--verbose shows dlt's log).
os.environ.setdefault("RUNTIME__LOG_LEVEL", "CRITICAL")
# Memory stays flat whatever the CRM's size (make bench: peak RSS at 100,000
# deals 567 MB -> ~370 MB): Arrow hands freed buffers back to the system
# instead of keeping them in its own pool, and DuckDB's load (dlt's merge)
# spills to disk beyond 128 MB. Both are overridable the usual way.
# Without `preserve_insertion_order` off, the merge's de-duplicating window
# over a 3,000,000-row first sync (sales activities at 1,000,000 deals) ran
# out of those 128 MB instead of spilling; raw tables have no order to keep.
# A first sync's straight insert runs under less (extract/duckdb_load.py).
# 64 MB on one thread for every load ran out of memory in the merges of a
# sweep at 1,000,000 deals (every task, appointment and sales activity loaded
# again into full tables).
DUCKDB_LOAD_ENV = "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG"
DUCKDB_LOAD_DEFAULT = '{"memory_limit": "128MB", "preserve_insertion_order": false}'
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
os.environ.setdefault(DUCKDB_LOAD_ENV, DUCKDB_LOAD_DEFAULT)


class _NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: Any = None) -> None:
        if name == "pandas":
            raise ModuleNotFoundError("hidden from pyarrow's first look", name=name)


def extractor_process() -> None:
    """Settings for a process that only extracts (`python -m extract run`),
    made before it imports pyarrow or starts a thread."""
    pyarrow_without_pandas()
    _malloc_arenas(2)


def collect_less() -> None:
    """Fewer cyclic garbage collections in the extractor, once its modules are
    imported.

    Every page parsed is a few hundred new dicts and lists, so Python's
    default (a young collection every 700 new objects, a full one as the
    survivors pile up in the batches) collected all the time, and each full
    collection walked the ~300,000 objects of dlt, pyarrow and their imports:
    12% of the time the extractor held the GIL at 100,000 deals (py-spy
    --gil). Those objects are frozen out of the collector's sight, and a young
    collection waits for 50,000 new objects. Memory is unchanged in practice:
    pages and batches are freed by reference counting, not by the collector.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _malloc_arenas(count: int) -> None:
    """At most `count` glibc malloc arenas (default: 8 per core, one per thread
    that allocates, each keeping what it freed). Measured at 100,000 deals with
    2: peak RSS of the extract step 219 MB against 237 MB, same CPU time."""
    if platform.libc_ver()[0] != "glibc":
        return
    try:
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, count)
    except (OSError, AttributeError):
        pass


_M_ARENA_MAX = -8  # glibc's malloc.h


def pyarrow_without_pandas() -> None:
    """pyarrow's one look for pandas, at its first `pa.array()`, made with
    pandas hidden.

    pyarrow imports pandas at that look when it is installed (is the value a
    pandas object?): about 33 MB of the extractor's RSS, for a process that
    never hands pyarrow a pandas object. After this, `pa.array()` takes
    pandas as absent in this process (a pandas Series would be read as a
    plain sequence); `to_pandas()` and `Table.from_pandas()` still import it
    when called. Nothing is done when pandas or pyarrow's look came first.
    """
    if "pandas" in sys.modules or "pyarrow" in sys.modules:
        return
    hide = _NoPandas()
    sys.meta_path.insert(0, hide)
    try:
        import pyarrow as pa

        pa.array([None])
    finally:
        sys.meta_path.remove(hide)
