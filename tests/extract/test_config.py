"""Settings from the environment: names, defaults, DATABASE_URL, clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from extract.config import REPO_ROOT, ConfigError, crm_account, load_settings, pg_settings


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


# The CRM account: CRM_* first, then dlt's sources.freshsales.* (here through the
# environment, which dlt reads live; an empty value stops dlt at the environment,
# so no .dlt/*.toml can answer). The TOML files are covered in test_cli_config.py.
DLT_URL, DLT_KEY = "SOURCES__FRESHSALES__BASE_URL", "SOURCES__FRESHSALES__API_KEY"
KEY = "k3y-that-must-never-be-printed"


def _crm(monkeypatch: pytest.MonkeyPatch, **values: str) -> Any:
    _clear(monkeypatch)
    for name in (DLT_URL, DLT_KEY):
        monkeypatch.setenv(name, "")
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return crm_account(load_settings(read_env_file=False))


def test_no_crm_anywhere_means_the_demo(monkeypatch):
    assert _crm(monkeypatch) is None


def test_crm_variables_win_over_dlt_config(monkeypatch):
    account = _crm(monkeypatch, CRM_BASE_URL="https://a.example/crm/sales", CRM_API_TOKEN="a",
                   **{DLT_URL: "https://b.example/crm/sales", DLT_KEY: "b"})
    assert (account.base_url, account.api_key) == ("https://a.example/crm/sales", "a")
    assert (account.base_url_from, account.api_key_from) == ("CRM_BASE_URL", "CRM_API_TOKEN")


def test_dlt_config_alone_and_mixed_with_crm_variables(monkeypatch):
    account = _crm(monkeypatch, **{DLT_URL: "https://b.example/crm/sales/api/", DLT_KEY: KEY})
    assert (account.base_url, account.api_key) == ("https://b.example/crm/sales", KEY)
    assert account.base_url_from == "sources.freshsales.base_url"
    assert KEY not in repr(account)
    mixed = _crm(monkeypatch, CRM_BASE_URL="https://a.example/crm/sales", **{DLT_KEY: KEY})
    assert (mixed.base_url, mixed.api_key) == ("https://a.example/crm/sales", KEY)
    assert (mixed.base_url_from, mixed.api_key_from) == ("CRM_BASE_URL",
                                                         "sources.freshsales.api_key")


def test_dlt_base_url_is_validated_like_crm_base_url(monkeypatch):
    with pytest.raises(ConfigError, match="sources.freshsales.base_url must be an http"):
        _crm(monkeypatch, **{DLT_URL: "acme.myfreshworks.com", DLT_KEY: KEY})


@pytest.mark.parametrize(("values", "missing"), [
    ({"CRM_BASE_URL": "https://a.example/crm/sales"}, "no API key"),
    ({DLT_URL: "https://a.example/crm/sales"}, "no API key"),
    ({"CRM_API_TOKEN": KEY}, "no CRM URL"),
    ({DLT_KEY: KEY}, "no CRM URL"),
])
def test_half_a_crm_is_an_error_without_the_key(monkeypatch, values, missing):
    with pytest.raises(ConfigError, match=missing) as error:
        _crm(monkeypatch, **values)
    assert KEY not in str(error.value)

