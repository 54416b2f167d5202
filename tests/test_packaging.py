"""The project installs as a package (`pip install .`) and its environments are locked.

- A wheel built from the sources installs `extract` with its subpackages and the
  `crm` command; both work from another folder, where the project folder
  (REPO_ROOT) is the current directory unless CRM_PROJECT_DIR says otherwise.
- requirements*.lock pin every requirements*.txt pin at the same version, each
  package with hashes, and pyproject's dependency ranges admit those pins.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCKS = {"requirements.txt": "requirements.lock",
         "requirements-spark.txt": "requirements-spark.lock"}


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180,
                          check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A venv holding only the wheel of this project; its dependencies are read from
    the running environment (a .pth line), so nothing is downloaded."""
    tmp = tmp_path_factory.mktemp("packaging")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, src / name)
    # A copy, so the build's build/ and *.egg-info stay out of the checkout.
    shutil.copytree(REPO_ROOT / "extract", src / "extract",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "CRM_PROJECT_DIR", "VIRTUAL_ENV")}
    env.update(RUNTIME__DLTHUB_TELEMETRY="false", PIP_DISABLE_PIP_VERSION_CHECK="1")
    pip = [sys.executable, "-m", "pip"]
    built = _run([*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                  str(src), "-w", str(tmp / "dist")], tmp, env)
    assert built.returncode == 0, built.stderr
    wheels = list((tmp / "dist").glob("crm_management-*.whl"))
    assert len(wheels) == 1, wheels

    venv = tmp / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp, env)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    done = _run([*pip, "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
                 str(wheels[0])], tmp, env)
    assert done.returncode == 0, done.stderr
    # The dependencies: the running environment's site-packages, after the venv's own
    # (a plain path line, so the checkout's editable install there stays inactive).
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                   tmp, env).stdout.strip()
    (Path(purelib) / "_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv, env


def test_wheel_installs_the_package_and_the_crm_command(
        installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    venv, env = installed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shown = _run([str(venv / "bin" / "crm"), "--help"], elsewhere, env)
    assert shown.returncode == 0, shown.stderr
    assert "run" in shown.stdout

    code = ("import extract, extract.freshsales, extract.sandbox, extract.tools.contract, "
            "extract.config as c; print(extract.__file__); print(c.REPO_ROOT)")
    imported = _run([str(venv / "bin" / "python"), "-c", code], elsewhere, env)
    assert imported.returncode == 0, imported.stderr
    package_file, project_dir = imported.stdout.splitlines()
    assert Path(package_file).is_relative_to(venv), package_file
    # No dbt_project.yml beside site-packages: the project folder is the working directory.
    assert Path(project_dir) == elsewhere.resolve()

    configured = _run([str(venv / "bin" / "python"), "-c", code], elsewhere,
                      {**env, "CRM_PROJECT_DIR": str(REPO_ROOT)})
    assert configured.returncode == 0, configured.stderr
    assert Path(configured.stdout.splitlines()[1]) == REPO_ROOT


def test_the_checkout_is_the_project_folder_from_anywhere(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CRM_PROJECT_DIR"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    code = ("from extract.config import REPO_ROOT; from extract.tools import contract; "
            "print(REPO_ROOT); print(contract.REPO_ROOT)")
    shown = _run([sys.executable, "-c", code], tmp_path, env)
    assert shown.returncode == 0, shown.stderr
    assert [Path(p) for p in shown.stdout.splitlines()] == [REPO_ROOT, REPO_ROOT]


def _pins(path: Path) -> dict[str, str]:
    """name -> version of the `name==version` lines (continuations and comments skipped)."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(3)
    return pins


@pytest.mark.parametrize("requirements", sorted(LOCKS))
def test_lock_pins_every_requirement_with_hashes(requirements: str) -> None:
    lock = REPO_ROOT / LOCKS[requirements]
    direct, locked = _pins(REPO_ROOT / requirements), _pins(lock)
    stale = {name: (version, locked.get(name)) for name, version in direct.items()
             if locked.get(name) != version}
    assert not stale, f"{lock.name} is stale, run `make lock`: {stale}"
    # Every entry carries its hashes (`make setup` installs with --require-hashes).
    entries = [e for e in re.split(r"\n(?=[A-Za-z0-9])", lock.read_text()) if "==" in e
               and not e.startswith("#")]
    assert len(entries) == len(locked) >= len(direct)
    unhashed = [e.split()[0] for e in entries if "--hash=sha256:" not in e]
    assert not unhashed, unhashed


def test_pyproject_dependencies_admit_the_pinned_versions() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"crm": "extract.cli:main"}
    locked = _pins(REPO_ROOT / "requirements.lock")
    for line in project["dependencies"]:
        requirement = Requirement(line)
        version = locked.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in requirements.lock"
        assert requirement.specifier.contains(version), (line, version)
