"""python_env.yaml, conda.yaml and requirements.lock describe one environment, read as MLflow and
conda read them, and the Python they declare is the one this environment runs on."""

from __future__ import annotations

import platform
import re
import tomllib

import yaml
from conftest import ROOT
from mlflow.utils.environment import _PythonEnv


def _lock() -> list[str]:
    return [
        line.strip()
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def _name(req: str) -> str:
    name = req.split("==")[0].split("[")[0]  # `psycopg[binary]`: extras are not a package
    return re.sub(r"[-_.]+", "-", name).lower()


def _expand(deps: list[str]) -> list[str]:
    """``-r file`` lines replaced by the file's requirements (paths relative to the project)."""
    out: list[str] = []
    for d in deps:
        if d.startswith("-r "):
            assert d[3:].strip() == "requirements.lock", f"{d!r}: only the lock file is referenced"
            out += _lock()
        else:
            out.append(d)
    return out


def test_lock_is_sorted_and_fully_pinned():
    lock = _lock()
    assert lock == sorted(lock, key=lambda r: r.split("==")[0].lower())
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[\w.+!]+", r) for r in lock), lock


def test_python_env_is_the_lock_on_the_installed_python():
    env = _PythonEnv.from_yaml(str(ROOT / "python_env.yaml"))
    # Exact: MLflow resolves "3.11" to the newest 3.11 release and makes pyenv download it.
    assert env.python == platform.python_version() == "3.11.7"
    assert env.build_dependencies == ["pip==24.3.1"]
    assert _expand(env.dependencies) == _lock()


def test_conda_yaml_matches_python_env_and_the_lock():
    conda = yaml.safe_load((ROOT / "conda.yaml").read_text())
    py_env = _PythonEnv.from_yaml(str(ROOT / "python_env.yaml"))
    conda_deps = [d for d in conda["dependencies"] if isinstance(d, str)]
    assert f"python={py_env.python}" in conda_deps
    pip_pin = py_env.build_dependencies[0].replace("==", "=")
    assert pip_pin in conda_deps
    (pip_section,) = [d["pip"] for d in conda["dependencies"] if isinstance(d, dict)]
    # The lock, plus the project itself (conda users get the `imbsweep` commands).
    assert _expand(pip_section) == [*_lock(), "-e ."]
    # MLflow reads the same Python and the same pins out of conda.yaml.
    from_conda = _PythonEnv.from_conda_yaml(str(ROOT / "conda.yaml"))
    assert from_conda.python == py_env.python


def test_pyproject_pins_are_in_the_lock():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lock = {_name(r): r.split("==")[1] for r in _lock()}
    project = pyproject["project"]
    for req in project["dependencies"] + project["optional-dependencies"]["dev"]:
        assert lock.get(_name(req)) == req.split("==")[1], req
    assert project["requires-python"] == ">=3.11,<3.12"
