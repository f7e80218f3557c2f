"""The ways to run the workbook without installing it: Binder, a dev container, conda.

Each reads a file of its own, which nothing else in the suite would notice going stale: a
dependency added to pyproject.toml but not to environment.yml breaks Binder and conda only.
"""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"redis": "redis-py"}  # conda-forge's name where it differs from PyPI's


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def test_environment_yml_lists_every_dependency_of_pyproject():
    project = _pyproject()["project"]
    wanted = _names(project["dependencies"]) | {n for extra in project["optional-dependencies"].values()
                                                for n in _names(extra)}
    listed = set(re.findall(r"^\s+- ([A-Za-z0-9_.-]+)", (ROOT / "environment.yml").read_text(), flags=re.M))
    missing = {name for name in wanted if CONDA_NAMES.get(name, name) not in {n.lower() for n in listed}}
    assert not missing, f"in pyproject.toml but not in environment.yml: {sorted(missing)}"


def test_binder_installs_the_package_and_redis_server():
    packages = [line.strip() for line in (ROOT / "apt.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert {"redis-server", "redis-tools"} <= set(packages)
    assert "- -e ." in (ROOT / "environment.yml").read_text()  # the patterns package itself
    assert not (ROOT / "binder").exists()  # it would make repo2docker ignore environment.yml and apt.txt


def test_the_dev_container_installs_redis_server_and_makes_the_venv_make_lab_uses():
    text = (ROOT / ".devcontainer" / "devcontainer.json").read_text()
    config = json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.M))  # JSON with comments
    command = config["postCreateCommand"]
    assert "redis-server" in command and "make .venv/.installed" in command
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^STAMP := \$\(VENV\)/\.installed$", makefile, flags=re.M)  # the target it names...
    assert re.search(r"^VENV := \.venv$", makefile, flags=re.M)  # ...is .venv/.installed
    assert 8888 in config["forwardPorts"]
