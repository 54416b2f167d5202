"""Var `bi_reader_role`: `select` on every mart for that role after every
build on PostgreSQL, nothing on the other layers; a no-op on DuckDB."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from dbt_support import MART_KEYS, DbtProject, extract_postgres, pg_cursor, postgres_project

MARTS = tuple(MART_KEYS)
NOT_GRANTED = ("intermediate.int_records_classified", "staging.stg_freshsales__deals")


def select_privileges(role: str, prefix: str) -> dict[str, bool]:
    relations = [f"marts.{mart}" for mart in MARTS] + list(NOT_GRANTED)
    with pg_cursor() as cur:
        granted = {}
        for relation in relations:
            cur.execute("select has_table_privilege(%s, %s, 'select')",
                        (role, f"{prefix}{relation}"))
            granted[relation] = cur.fetchone()[0]
    return granted


def test_bi_reader_role_can_read_the_marts_after_every_build(
    sandbox: Any, pg_prefix: str, tmp_path: Path,
) -> None:
    role = f"{pg_prefix}bi_reader"
    with pg_cursor() as cur:
        cur.execute(f'create role "{role}" nologin')
    try:
        extract_postgres(sandbox, f"{pg_prefix}raw", tmp_path / "pipelines")
        project = postgres_project(tmp_path / "dbt", pg_prefix)
        expected = {**{f"marts.{mart}": True for mart in MARTS},
                    **dict.fromkeys(NOT_GRANTED, False)}
        # the second build replaces every table mart and adds to the
        # snapshot: the grant must survive both
        for build in ("first", "second"):
            result = project.run("build", "--vars", f"{{bi_reader_role: {role}}}")
            assert "Completed successfully" in result.stdout
            assert select_privileges(role, pg_prefix) == expected, f"after the {build} build"
        assert "OK snapshotted" in result.stdout
    finally:
        with pg_cursor() as cur:
            cur.execute(f'drop owned by "{role}"')
            cur.execute(f'drop role "{role}"')


def test_bi_reader_role_is_a_no_op_on_duckdb(built: Any, tmp_path: Path) -> None:
    project, built_path = built("original")
    path = tmp_path / "crm.duckdb"
    shutil.copy(built_path, path)
    again = DbtProject(project.workdir, env={"DUCKDB_PATH": str(path)})
    result = again.run("build", "--select", "accounts",
                       "--vars", "{crm_preset: original, bi_reader_role: bi_reader}")
    assert "Completed successfully" in result.stdout
