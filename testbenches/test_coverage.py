"""Code coverage (testbenches/coverage.py, `trtrl regress --coverage`): the merge, the
summary and the annotated listing on small coverage files, then a Verilator run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trtrl.testbenches import coverage


def _point(src: Path, line: int, kind: str, what: str) -> str:
    return (f"\x01f\x02{src}\x01l\x02{line}\x01t\x02{kind}\x01page\x02v_{kind}/m"
            f"\x01o\x02{what}\x01h\x02m")


def test_merge_sums_equal_points_and_the_summary_counts_covered_ones(tmp_path: Path) -> None:
    src = tmp_path / "d.v"
    src.write_text("module m;\n  a;\n  b;\nendmodule\n")
    a, b, t = _point(src, 2, "line", "block"), _point(src, 3, "line", "block"), \
        _point(src, 2, "toggle", "x:0->1")
    (tmp_path / "1.dat").write_text(coverage.HEADER + f"C '{a}' 3\nC '{b}' 0\nC '{t}' 0\n")
    (tmp_path / "2.dat").write_text(coverage.HEADER + f"C '{a}' 1\nC '{t}' 2\n")
    points = coverage.merge([tmp_path / "1.dat", tmp_path / "2.dat"])
    assert points == {a: 4, b: 0, t: 2}
    summary = coverage.summarise(points)["d"]  # no manifest beside d.v: named by its stem
    assert summary["line"] == {"covered": 1, "total": 2, "percent": 50.0}
    assert summary["toggle"] == {"covered": 1, "total": 1, "percent": 100.0}
    (listing,) = coverage.annotate(points, tmp_path / "ann")
    lines = listing.read_text().splitlines()
    assert lines[1].startswith("      4 ") and lines[2].startswith("%000000 ")
    assert lines[0] == " " * 8 + "module m;"
    coverage.write_points(points, tmp_path / "merged.dat")
    assert coverage.read_points(tmp_path / "merged.dat") == points


def test_regress_coverage_of_a_verilator_run(tmp_path: Path) -> None:
    """`trtrl regress --quick --sim verilator --coverage`, as a user types it."""
    res = subprocess.run([sys.executable, "-m", "trtrl.cli", "regress", "--quick", "--sim",
                          "verilator", "--coverage", "-o", "reg"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    summary = json.loads((tmp_path / "reg" / "summary.json").read_text())
    designs = summary["coverage"]["designs"]
    (label,) = [d for d in designs if d.startswith("trtrl_axi N2 M1 K1")]
    for kind in coverage.KINDS:
        cov = designs[label][kind]
        assert cov["total"] > 0 and 0 < cov["covered"] <= cov["total"], (kind, cov)
    assert (tmp_path / "reg" / "coverage" / "coverage.dat").is_file()
    assert list((tmp_path / "reg" / "coverage" / "annotated").glob("trtrl_axi_N2_M1_K1_*"))
    assert "code coverage" in res.stdout


@pytest.mark.parametrize("sim", ["icarus"])
def test_regress_coverage_needs_verilator(tmp_path: Path, sim: str) -> None:
    res = subprocess.run([sys.executable, "-m", "trtrl.cli", "regress", "--quick", "--sim",
                          sim, "--coverage", "-o", "reg"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 2 and "--coverage needs Verilator" in res.stderr
    assert not (tmp_path / "reg").exists()
