"""The destination is the truth: what a run does before it extracts.

It finishes the load packages a killed run left behind (moving aside one that
fails for a data reason), then takes the pipeline's state from the
destination, never from the local working folder, and decides whether the run
must sync in full (a reset destination, a raw table that lost its rows).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed

from extract.errors import destination_problem, first_line
from extract.freshsales import settings as fs_settings
from extract.summary import raw_counts

TARGET_MARK = "crm_target"  # in the working folder: the database its packages belong to


def load(pipeline: dlt.Pipeline) -> None:
    """`pipeline.load()`, one job at a time into DuckDB.

    DuckDB's load jobs share one database and its memory limit
    (extract/defaults.py). At 1,000,000 deals the merges of sales activities
    and tasks side by side ran out of it and the first sync failed; one after
    the other they spill, and the four largest tables load in about the same
    time (24.7 s against 22.7 s side by side, measured on their files).
    """
    duckdb = pipeline.destination is not None and pipeline.destination.destination_name == "duckdb"
    if duckdb:
        pipeline.load(workers=1)
    else:
        pipeline.load()


def mark_target(pipeline: dlt.Pipeline, target: str) -> None:
    """Record which database this working folder's packages are for."""
    (Path(pipeline.working_dir) / TARGET_MARK).write_text(target)


def finish_pending(pipeline: dlt.Pipeline, full_refresh: bool, workdir: Path,
                   note: Callable[[str], None], target: str) -> int:
    """Load what a killed run left behind (or drop it on a full refresh).

    A package that fails to load for a data reason (not an unreachable, locked
    or full destination) is moved aside, so runs do not fail on it forever;
    its pages are read again, as the destination's state does not have them.
    So is a package a killed run left for another database (the pipeline name
    is per destination kind and dataset, so two DuckDB files share a folder):
    it never loads into the wrong one.
    """
    if not pipeline.has_pending_data:
        return 0
    pending = len(pipeline.list_extracted_load_packages()) + len(
        pipeline.list_normalized_load_packages()
    )
    if full_refresh:
        pipeline.drop()
        return 0
    mark = Path(pipeline.working_dir) / TARGET_MARK
    owner = mark.read_text() if mark.exists() else target
    if owner != target:
        moved = quarantine(pipeline, workdir)
        note(f"a load package left by an interrupted run into {owner} was not loaded here; "
             f"moved it to {moved}")
        return 0
    try:
        pipeline.normalize()
        load(pipeline)
    except PipelineStepFailed as exc:
        if destination_problem(exc):
            raise
        moved = quarantine(pipeline, workdir)
        note(f"a load package left by an earlier run failed to load ({first_line(exc)}); "
             f"moved it to {moved}; its pages are read again")
        return 0
    return pending


def quarantine(pipeline: dlt.Pipeline, workdir: Path) -> Path:
    """Copy the pending load packages to `<workdir>/quarantine/<pipeline>/` and
    drop the local pipeline (state and schema come back from the destination)."""
    target = workdir / "quarantine" / pipeline.pipeline_name
    ids = [*pipeline.list_normalized_load_packages(), *pipeline.list_extracted_load_packages()]
    root = Path(pipeline.working_dir)
    for load_id in ids:
        for folder in root.glob(f"*/*/{load_id}"):
            if folder.is_dir():
                shutil.copytree(folder, target / load_id, dirs_exist_ok=True)
    pipeline.drop()
    return target / ids[0] if len(ids) == 1 else target


def trust_destination(pipeline: dlt.Pipeline, crm_key: str,
                      note: Callable[[str], None], target: str) -> bool:
    """Take the pipeline's state from the destination, never from the local folder.

    The local working folder is dropped and the state and schema restored
    from the destination (dlt's `sync_destination`). When the local folder
    had cursors and the destination has none (the destination was reset: a
    deleted file, a dropped schema, a removed folder, a new database), the
    run syncs in full and says so. When the destination's state has cursors
    for a raw table that is missing or empty, likewise, and True is returned:
    the run drops the source's tables and state (dlt's `drop_sources`).
    """
    mark = Path(pipeline.working_dir) / TARGET_MARK
    same = not mark.exists() or mark.read_text() == target  # else: another database's folder
    local = tables_with_cursors(pipeline, crm_key) if same else []
    pipeline.drop()
    pipeline.sync_destination()
    remote = tables_with_cursors(pipeline, crm_key)
    if local and not remote:
        note(f"the destination has no data of this pipeline ({pipeline.dataset_name} was "
             "reset, or this is a new database): ignoring the local state, syncing in full")
        return False
    if not remote:
        return False
    present = raw_counts(pipeline, remote, exists_only=True)
    missing = [table for table in remote if not present.get(table)]
    if missing:
        note(f"{', '.join(pipeline.dataset_name + '.' + t for t in missing)} missing or empty "
             "in the destination while its state has cursors: syncing in full")
        return True
    return False


def tables_with_cursors(pipeline: dlt.Pipeline, crm_key: str) -> list[str]:
    """The entity tables whose cursors or saved positions for this CRM are in the state."""
    try:
        resources = pipeline.state["sources"]["freshsales"]["resources"]  # type: ignore[index]
    except (KeyError, TypeError):
        return []
    return [
        table for table in fs_settings.ENTITIES
        if any((resources.get(table) or {}).get(kind, {}).get(crm_key)
               for kind in ("cursors", "positions"))
    ]
