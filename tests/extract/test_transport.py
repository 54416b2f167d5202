"""The CRM URL must be https:// unless the CRM is this machine: the API token is
never sent in clear text over the network, unless CRM_ALLOW_INSECURE_HTTP=1 says so."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from extract_helpers import cli_env, raw_rows, run_cli, sandbox

from extract.config import ConfigError, crm_account, load_settings

TOKEN = "tok3n-that-must-never-be-printed"
REMOTE_HTTP = "http://crm.example.com/crm/sales"
DLT_URL, DLT_KEY = "SOURCES__FRESHSALES__BASE_URL", "SOURCES__FRESHSALES__API_KEY"


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CRM_BASE_URL", "CRM_API_TOKEN", "CRM_ALLOW_INSECURE_HTTP"):
        monkeypatch.delenv(name, raising=False)
    for name in (DLT_URL, DLT_KEY):
        monkeypatch.setenv(name, "")  # stops dlt at the environment: no .dlt/*.toml answers


# ------------------------------------------------------------------ the CLI


def test_run_refuses_plain_http_to_a_remote_host_in_one_line(tmp_path: Path) -> None:
    env = cli_env(tmp_path, CRM_BASE_URL=REMOTE_HTTP, CRM_API_TOKEN=TOKEN)
    started = time.monotonic()
    done = run_cli(tmp_path, env=env, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "error: CRM_BASE_URL is plain http:// to crm.example.com, which would send the API "
        "token in clear text; use https:// (http is accepted only for localhost, 127.0.0.1 "
        "and ::1, or with CRM_ALLOW_INSECURE_HTTP=1)"
    ]
    assert "Traceback" not in done.stderr
    assert TOKEN not in done.stdout + done.stderr
    assert done.stdout == ""
    # Refused before anything happened: no database file, no dlt folder, no waiting.
    assert not (tmp_path / "cli.duckdb").exists()
    assert not (tmp_path / "pipelines").exists()
    assert time.monotonic() - started < 30


def test_run_names_dlts_variable_when_the_url_came_from_there(tmp_path: Path) -> None:
    env = cli_env(tmp_path, **{DLT_URL: REMOTE_HTTP, DLT_KEY: TOKEN})
    done = run_cli(tmp_path, env=env, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "error: sources.freshsales.base_url is plain http:// to crm.example.com, which "
        "would send the API token in clear text; use https://"
    )
    assert TOKEN not in done.stdout + done.stderr


def test_http_to_localhost_extracts_end_to_end(tmp_path: Path) -> None:
    with sandbox() as sb:
        port = sb.base_url.split(":")[2].split("/")[0]
        url = f"http://localhost:{port}/crm/sales"
        env = cli_env(tmp_path, CRM_BASE_URL=url, CRM_API_TOKEN=sb.api_key)
        done = run_cli(tmp_path, "--quiet", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert len(raw_rows(tmp_path / "cli.duckdb", "deals", "id")) == 730


# ------------------------------------------------------------------ the settings


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/crm/sales",
    "http://127.8.9.10:8080/crm/sales",
    "http://localhost:8080/crm/sales",
    "http://LOCALHOST:8080/crm/sales",
    "http://[::1]:8080/crm/sales",
    "https://acme.myfreshworks.com/crm/sales",
    "https://10.0.0.5/crm/sales",
])
def test_loopback_http_and_any_https_are_accepted(monkeypatch, url: str) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("CRM_BASE_URL", url)
    assert load_settings(read_env_file=False).crm_base_url == url


@pytest.mark.parametrize("url", [
    REMOTE_HTTP,
    "HTTP://crm.example.com/crm/sales",
    "http://10.0.0.5:8080/crm/sales",
    "http://0.0.0.0:8080/crm/sales",
    "http://127.0.0.1.example.com/crm/sales",
    "http://localhost.example.com/crm/sales",
    "http://user:pa55word@crm.example.com/crm/sales",
])
def test_plain_http_elsewhere_is_refused(monkeypatch, url: str) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("CRM_BASE_URL", url)
    with pytest.raises(ConfigError, match=r"^CRM_BASE_URL is plain http:// to .*use https://") as e:
        load_settings(read_env_file=False)
    assert "pa55word" not in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("value", ["", "0", "no", "false"])
def test_the_override_needs_an_explicit_yes(monkeypatch, value: str) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("CRM_BASE_URL", REMOTE_HTTP)
    monkeypatch.setenv("CRM_ALLOW_INSECURE_HTTP", value)
    with pytest.raises(ConfigError, match="CRM_BASE_URL"):
        load_settings(read_env_file=False)


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_the_override_accepts_plain_http(monkeypatch, value: str) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("CRM_BASE_URL", REMOTE_HTTP + "/api/")
    monkeypatch.setenv("CRM_API_TOKEN", TOKEN)
    monkeypatch.setenv("CRM_ALLOW_INSECURE_HTTP", value)
    settings = load_settings(read_env_file=False)
    assert settings.crm_base_url == REMOTE_HTTP
    assert crm_account(settings).base_url == REMOTE_HTTP


def test_the_override_covers_dlts_url_too(monkeypatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv(DLT_URL, REMOTE_HTTP)
    monkeypatch.setenv(DLT_KEY, TOKEN)
    with pytest.raises(ConfigError, match=r"^sources\.freshsales\.base_url is plain http://"):
        crm_account(load_settings(read_env_file=False))
    monkeypatch.setenv("CRM_ALLOW_INSECURE_HTTP", "1")
    account = crm_account(load_settings(read_env_file=False))
    assert (account.base_url, account.base_url_from) == (REMOTE_HTTP, "sources.freshsales.base_url")


# ------------------------------------------------------------------ the write-back client


def test_write_back_client_refuses_plain_http_to_a_remote_host(monkeypatch) -> None:
    from extract.tools.crm import client_from_settings
    from extract.tools.db import ToolError

    _clear(monkeypatch)
    monkeypatch.setenv("CRM_BASE_URL", REMOTE_HTTP)
    monkeypatch.setenv("CRM_API_TOKEN", TOKEN)
    refused_line = r"^CRM_BASE_URL is plain http:// to crm\.example\.com, .* use https://"
    with pytest.raises(ToolError, match=refused_line) as refused:
        client_from_settings()
    assert refused.value.code == 2
    assert TOKEN not in str(refused.value)

    monkeypatch.setenv("CRM_ALLOW_INSECURE_HTTP", "1")
    assert client_from_settings().base_url == REMOTE_HTTP
    monkeypatch.delenv("CRM_ALLOW_INSECURE_HTTP")
    monkeypatch.setenv("CRM_BASE_URL", "http://127.0.0.1:9/crm/sales")
    assert client_from_settings().base_url == "http://127.0.0.1:9/crm/sales"
