"""The image recipe keeps secrets out: nothing secret is copied or baked in."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET_FILES = [".env", ".dlt/secrets.toml", "profiles.yml", "crm.duckdb", ".venv/bin/python",
                ".venv-spark/bin/python", "logs/audit.jsonl", ".git/config"]
NEEDED_FILES = ["requirements.lock", "pyproject.toml", "README.md", "extract/cli.py",
                "dbt_project.yml", "dbt_project/models/marts/_marts__models.yml",
                "profiles.example.yml", "scripts/extract_crm_data/run_main_cli.sh", ".env.example"]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, body) or fnmatch.fnmatch(p, body.replace("**/", ""))
               for p in prefixes):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    patterns = [p.strip() for p in lines if p.strip() and not p.startswith("#")]
    for path in SECRET_FILES:
        assert _ignored(path, patterns), f"{path} would be copied into the image"
    for path in NEEDED_FILES:
        assert not _ignored(path, patterns), f"{path} is needed in the image"


def test_dockerfile_runs_the_cli_as_a_non_root_user_without_secrets() -> None:
    text = (REPO_ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", text, re.M)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", text, re.M)
    assert "pip install --require-hashes -r requirements.lock" in text
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert re.search(r'^ENTRYPOINT \["python3", "-m", "extract"\]$', text, re.M)
    for secret in ("CRM_API_TOKEN", "PGPASSWORD", "DATABASE_URL", "secrets.toml"):
        assert secret not in re.sub(r"^#.*$", "", text, flags=re.M), secret
