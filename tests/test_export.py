"""Tables for a paper: imbsweep-report --format latex / markdown (imbsweep.export)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_report import _rows

from imbsweep import export
from imbsweep.report import report


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    rows = _rows(n_ds=6, seeds=3).drop(columns="run_id")
    rows["label"] = rows["label"].map({"a": "smote_ann k=5", "b": "brf", "c": "naive"})
    return report(rows, out, None, do_plot=False), out


def test_latex_tables_and_the_cd_diagram_as_pdf_and_svg(files):
    files, out = files
    written = export.write(files, out, "latex", "minority_f1")
    assert [p.name for p in written] == ["tables.tex", "cd_diagram.pdf", "cd_diagram.svg"]
    tex = written[0].read_text()
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") == 4  # ranges, paired, 2 across
    assert tex.count(r"\toprule") == 4 and r"\label{tab:paired}" in tex
    assert r"smote\_ann k=5" in tex and "smote_ann" not in tex.replace(r"\_", "")  # escaped
    assert r"$\pm$" in tex and "±" not in tex
    # The paired table: verdict first, the Holm p-value kept; every row has every column.
    paired = tex.split(r"\label{tab:paired}")[1].split(r"\end{tabular}")[0]
    head = paired.split(r"\toprule")[1].split(r"\midrule")[0]
    assert head.strip().startswith("Verdict &") and "p (Holm)" in head
    n_cols = head.count("&")
    body = paired.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
    assert len(body) == 3 * 6 and all(line.count("&") == n_cols for line in body)
    assert written[1].read_bytes().startswith(b"%PDF")
    assert "<svg" in written[2].read_text()[:500]


def test_markdown_tables(files):
    files, out = files
    md = export.write(files, out, "markdown", "minority_f1")[0].read_text()
    tables = re.findall(r"^\| Verdict \|", md, flags=re.M)
    assert len(tables) == 3  # paired, omnibus, across datasets
    assert "| Dataset | Method | Seeds | F1 (class 1) |" in md
    assert "±" in md and "[" in md  # mean ± sd [95% interval]


def test_report_cli_rejects_an_unknown_format():
    r = subprocess.run(
        [Path(sys.executable).parent / "imbsweep-report", "--format", "docx"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "invalid choice: 'docx'" in r.stderr
