"""What the Makefile's targets would run (``make -n``: nothing is executed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make")


def _dry(*targets: str) -> str:
    r = subprocess.run(
        ["make", "-n", *targets], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_install_and_run_install_no_system_package():
    assert "apt-get" not in _dry("install", "run")


def test_the_browser_is_make_tests_business():
    assert "apt-get install -y -q chromium" in _dry("test")
