"""The AXI top as a user drives it: `trtrl rtl gen` (its default top) then
`trtrl regress --rtl trtrl_axi.v --batched`, each in a fresh process, relative paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TRTRL = Path(sys.executable).with_name("trtrl")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TRTRL), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


def test_gen_then_batched_regress(tmp_path: Path) -> None:
    proc = _run("rtl", "gen", "-n", "2", "-m", "1", "-k", "1", "-o", "rtl2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "rtl2").iterdir()) == [
        "trtrl_axi.json", "trtrl_axi.v", "trtrl_regs.h"]
    proc = _run("regress", "--rtl", "rtl2/trtrl_axi.v", "--batched", "--sim", "icarus",
                "--steps", "60", "--checkpoint-every", "20", "-o", "reg", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((tmp_path / "reg" / "summary.json").read_text())
    (row,) = summary["tests"]
    assert row["result"] == "passed" and row["steps"] == 60
    # a batched run of 60 steps sets the plain harness's rate beside the scored one
    assert row["plain_steps_per_s"] > 0 and row["plain_ratio"] > 0
    assert row["cycles_per_step"] >= 23  # the core's own count at N = 2 is a lower bound
    result = json.loads(next((tmp_path / "reg" / "results").glob("*.json")).read_text())
    assert result["extra"]["checkpoints"] == 4  # before step 0, after 20, 40 and 60
