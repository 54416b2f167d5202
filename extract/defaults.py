"""Process defaults, set before dlt, pyarrow or DuckDB are imported (the
package's `__init__` imports this module first). Each is an environment
variable, so a user overrides it the usual way."""

from __future__ import annotations

import os

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
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
os.environ.setdefault("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG",
                      '{"memory_limit": "128MB", "preserve_insertion_order": false}')
