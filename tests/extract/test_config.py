"""Settings from the environment: names, defaults, DATABASE_URL, clear errors."""

from __future__ import annotations

import pytest

from extract.config import REPO_ROOT, ConfigError, load_settings, pg_settings


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CRM_BASE_URL", "CRM_API_TOKEN", "DUCKDB_PATH", "RAW_SCHEMA", "DBT_TARGET",
                 "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_defaults(monkeypatch):
    _clear(monkeypatch)
    settings = load_settings(read_env_file=False)
    assert settings.crm_base_url is None
    assert settings.duckdb_path == REPO_ROOT / "crm.duckdb"
    assert settings.raw_schema == "raw"
    assert settings.dbt_target == "duckdb"
    assert (settings.pg.host, settings.pg.port, settings.pg.user, settings.pg.database) == (
        "127.0.0.1", 5432, "postgres", "postgres")


def test_database_url_is_translated_and_pg_vars_win():
    env = {"DATABASE_URL": "postgresql://app:p%40ss@db.example:6543/crm", "PGUSER": "me"}
    pg = pg_settings(env)
    assert (pg.host, pg.port, pg.user, pg.password, pg.database) == (
        "db.example", 6543, "me", "p@ss", "crm")
    assert "p@ss" not in repr(pg) and "p@ss" not in pg.describe()


def test_base_url_is_normalised(monkeypatch):
    _clear(monkeypatch)
    monkeypatch.setenv("CRM_BASE_URL", "https://acme.myfreshworks.com/crm/sales/api/")
    assert load_settings(read_env_file=False).crm_base_url == (
        "https://acme.myfreshworks.com/crm/sales")


@pytest.mark.parametrize(("name", "value"), [
    ("CRM_BASE_URL", "acme.myfreshworks.com"),
    ("PGPORT", "five"),
    ("RAW_SCHEMA", "raw; drop table x"),
    ("DBT_TARGET", "snowflake"),
    ("DATABASE_URL", "mysql://u@h/db"),
])
def test_bad_values_name_the_variable(monkeypatch, name, value):
    _clear(monkeypatch)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings(read_env_file=False)
