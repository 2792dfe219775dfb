"""`trtrl bench sim`: the command runs and prints its rows (timings are not tested)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trtrl.cli import main
from trtrl.pymodel.errors import TrtrlError
from trtrl.testbenches.bench_sim import BenchRow, check_passed, format_rows


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["bench", "sim", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--icarus-steps", "--verilator-steps", "--sim", "--json"):
        assert option in out


def _row(sim: str, variant: str, sps: float, build: float, passed: bool = True) -> BenchRow:
    return BenchRow(sim=sim, variant=variant, label=variant, passed=passed, steps=10,
                    build_s=build, stream_cpu_s=10 / sps, stream_wall_s=1.0, steps_per_s=sps,
                    message="" if passed else "SCOREBOARD MISMATCH: ...")


def test_table_ratios_and_failures() -> None:
    """Each "after" row shows its speed and build ratio over the "before" row of its sim."""
    rows = [_row("icarus", "concat", 10.0, 4.0), _row("icarus", "signed", 25.0, 2.0),
            _row("verilator", "public", 100.0, 50.0), _row("verilator", "ports", 190.0, 30.0)]
    lines = format_rows(rows, 15, 1, 1).splitlines()
    assert "N=15 M=1 K=1" in lines[0]
    assert lines[3].split()[:2] == ["icarus", "signed"] and "2.50x" in lines[3]
    assert "0.50x" in lines[3]  # build
    assert "1.90x" in lines[5] and "0.60x" in lines[5]
    assert "x" not in lines[2].split()[5:7] and "x" not in lines[4].split()[5:7]
    check_passed(rows)
    rows[1] = _row("icarus", "signed", 25.0, 2.0, passed=False)
    text = format_rows(rows, 15, 1, 1)
    assert "FAILED" in text and "2.50x" not in text
    with pytest.raises(TrtrlError, match="icarus signed failed"):
        check_passed(rows)


def test_smoke_icarus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A two-step run at N=1 on Icarus: both rows, both bit-exact, JSON written."""
    js = tmp_path / "bench.json"
    rc = main(["bench", "sim", "-n", "1", "-m", "0", "-k", "1", "--sim", "icarus",
               "--icarus-steps", "2", "--build-dir", str(tmp_path / "b"), "--json", str(js)])
    assert rc == 0
    captured = capsys.readouterr()
    rows = [ln.split() for ln in captured.out.splitlines() if ln.startswith("icarus")]
    assert [r[:2] for r in rows] == [["icarus", "concat"], ["icarus", "signed"]]
    assert rows[1][6].endswith("x")  # the speed-up column of the "after" row
    assert "[2/2] icarus signed" in captured.err  # progress
    data = json.loads(js.read_text())
    assert [(r["variant"], r["passed"], r["steps"]) for r in data["rows"]] == [
        ("concat", True, 2), ("signed", True, 2)]
