"""The README's environment figures against the files and the environment they describe."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_pinned_package_count_is_the_locks():
    m = re.search(r"the (\d+) pinned packages of\s+`requirements\.lock`", README)
    assert m, "README: 'the N pinned packages of `requirements.lock`' not found"
    lock = (ROOT / "requirements.lock").read_text().splitlines()
    pinned = [line for line in lock if "==" in line and not line.lstrip().startswith("#")]
    assert int(m.group(1)) == len(pinned), f"README says {m.group(1)}, the lock pins {len(pinned)}"


@pytest.mark.skipif(sys.prefix == sys.base_prefix or not shutil.which("du"), reason="no venv")
def test_virtualenv_size_is_within_15_percent_of_the_readme():
    m = re.search(r"about ([\d.]+) GB installed with the dev extras", README)
    assert m, "README: 'about X GB installed with the dev extras' not found"
    kib = int(
        subprocess.run(["du", "-sk", sys.prefix], capture_output=True, text=True).stdout.split()[0]
    )
    gb = kib / 1024**2  # as `du -sh` prints it
    said = float(m.group(1))
    assert abs(gb - said) <= 0.15 * said, f"README says {said} GB; {sys.prefix} is {gb:.1f} GB"
