"""dlt's DuckDB destination, with a first full sync that writes each row once.

dlt merges (`delete-insert`) by inserting a table's parquet files into
`<dataset>_staging` and then running DELETE + INSERT ... SELECT (ROW_NUMBER()
by id, newest `updated_at` first) into the raw table. When the raw table is
still empty (a first sync, or `--full-refresh`, which drops it), the staging
copy and the sorted second write are pure cost. Replayed on the files of a
1,000,000-deal first sync (7,133,404 rows; 2 cores, 128 MB): 30.7 s with
dlt's merge, 13.4 s straight into the raw tables.

So the parquet file of a merge table goes straight into the raw table when
that table is empty as the file's job runs (checked inside the job's
transaction) and the file is the package's only one for the table (the
extractor writes one a table; dlt de-duplicates several together); duplicate
ids (a record read twice) are then removed in place, the newest version kept
as dlt's merge keeps it. The merge job that follows finds its staging table
empty and changes nothing. A retried job after one that committed finds rows
there and takes dlt's way (staging, then merge), so the result is dlt's in
every case. Anything unusual (several files, nested tables, another merge
strategy, hard-delete or merge-key hints) takes dlt's way too.

Memory: dlt's merge runs under the configured limit (128 MB on two threads,
extract/defaults.py); the straight insert narrows it to 64 MB on one thread
while it runs, unless the user set their own. DuckDB takes more than its
limit (buffers outside it, one set per thread), and what an insert needs
grows with its threads: the seven entity tables of a 1,000,000-deal first
sync replayed from their files took the process +163 MB with 128 MB on two
threads, +131 MB with 96 MB on two, +93 MB with 64 MB on one (7.6 s ->
12.8 s). 80 MB on two threads and 32 MB on one ran out of memory on the
deals file, so 64 MB on one keeps the margin per thread that 128 MB on two
has. In a real 1,000,000-deal first sync: peak RSS 364 MB -> 301 MB, load
step 9.7 s -> 14.7 s of 231 s. The check for repeated ids groups, which
spills; count(DISTINCT id) does not, and ran out of memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from dlt.common.destination.client import LoadJob, PreparedTableSchema
from dlt.common.schema.typing import TTableSchema
from dlt.common.storages.load_storage import ParsedLoadJobFileName
from dlt.destinations import duckdb as dlt_duckdb
from dlt.destinations.impl.duckdb.configuration import DuckDbClientConfiguration
from dlt.destinations.impl.duckdb.duck import DuckDbClient, DuckDbCopyJob

from extract.defaults import DUCKDB_LOAD_DEFAULT, DUCKDB_LOAD_ENV
from extract.pg_load import dedup_order_by, has_repeated_keys, plain_merge_table, primary_keys

__all__ = ["duckdb"]

_JOB_FOLDERS = ("new_jobs", "started_jobs", "completed_jobs", "failed_jobs")


class FirstSyncCopyJob(DuckDbCopyJob):
    """dlt's parquet copy job; into the raw table itself while that is empty."""

    def run(self) -> None:
        client = self._job_client
        sql_client = client.sql_client
        self._sql_client = sql_client
        table = cast(TTableSchema, self._load_table)
        # the loader runs copy jobs of merge tables in the staging dataset
        dataset, _ = DuckDbClient.create_dataset_names(
            client.schema, cast(DuckDbClientConfiguration, client.config))
        with sql_client.with_alternative_dataset_name(dataset):
            final = sql_client.make_qualified_table_name(str(table["name"]))
        with sql_client.begin_transaction():
            if not _only_file(self._file_path) or sql_client.execute_sql(
                    f"SELECT 1 FROM {final} LIMIT 1"):
                super().run()  # dlt's insert, into the staging table
                return
            with _first_sync_settings(sql_client):
                with sql_client.with_alternative_dataset_name(dataset):
                    super().run()  # dlt's insert, into the raw table
                if has_repeated_keys(table, final, sql_client, grouped=True):
                    sql_client.execute_sql(_dedup_sql(table, final, sql_client))


FIRST_SYNC_SETTINGS = {"memory_limit": "64MB", "threads": "1"}


@contextmanager
def _first_sync_settings(sql_client: Any) -> Iterator[None]:
    """DuckDB's memory limit and threads narrowed for the straight insert, then
    put back; left alone when the user configured the load's DuckDB."""
    if os.environ.get(DUCKDB_LOAD_ENV, DUCKDB_LOAD_DEFAULT) != DUCKDB_LOAD_DEFAULT:
        yield
        return
    before = {name: sql_client.execute_sql(f"SELECT current_setting('{name}')")[0][0]
              for name in FIRST_SYNC_SETTINGS}
    for name, value in FIRST_SYNC_SETTINGS.items():
        sql_client.execute_sql(f"SET {name} = '{value}'")
    try:
        yield
    finally:
        for name, value in before.items():
            sql_client.execute_sql(f"SET {name} = '{value}'")


def _only_file(file_path: str) -> bool:
    """Is this the load package's only parquet file of its table?

    dlt's merge de-duplicates all of a table's files of a package together
    (newest `updated_at` wins); a file loaded straight in would instead be
    overwritten by any later file's version of an id, newer or not.
    """
    job = ParsedLoadJobFileName.parse(file_path)
    package = Path(file_path).parent.parent
    files = [f for folder in _JOB_FOLDERS for f in (package / folder).glob(f"{job.table_name}.*")
             if f.suffix == ".parquet"
             and ParsedLoadJobFileName.parse(f.name).table_name == job.table_name]
    return len(files) == 1


def _dedup_sql(table: TTableSchema, final: str, sql_client: Any) -> str:
    """Delete all but one row per key, the one dlt's merge would insert, sorting
    only the repeated keys."""
    keys = primary_keys(table, sql_client)
    return (
        f"DELETE FROM {final} WHERE rowid IN (SELECT _dlt_rowid FROM (SELECT rowid AS _dlt_rowid,"
        f" ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY {dedup_order_by(table, sql_client)})"
        f" AS _dlt_dedup_rn FROM {final} WHERE ({keys}) IN (SELECT {keys} FROM {final}"
        f" GROUP BY {keys} HAVING count(*) > 1)) WHERE _dlt_dedup_rn > 1)"
    )


class FirstSyncDuckDbClient(DuckDbClient):
    """dlt's DuckDbClient; parquet files of plain root merge tables run FirstSyncCopyJob."""

    def create_load_job(
        self, table: PreparedTableSchema, file_path: str, load_id: str, restore: bool = False
    ) -> LoadJob:
        job = super().create_load_job(table, file_path, load_id, restore)
        if type(job) is DuckDbCopyJob and file_path.endswith(".parquet") \
                and plain_merge_table(self, table):
            return FirstSyncCopyJob(file_path)
        return job


class duckdb(dlt_duckdb):  # noqa: N801 (dlt names destinations by their class)
    """dlt's duckdb destination with FirstSyncDuckDbClient."""

    @property
    def client_class(self) -> type[DuckDbClient]:
        return FirstSyncDuckDbClient
