"""`trtrl bench axi`: the command runs as a user types it and prints its three rates
(their values are measurements, not tested)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TRTRL = Path(sys.executable).with_name("trtrl")


def test_smoke_icarus(tmp_path: Path) -> None:
    """N=2 on Icarus, from another folder, relative --json: every rate measured, a ratio."""
    proc = subprocess.run([str(TRTRL), "bench", "axi", "-n", "2", "--sim", "icarus",
                           "--icarus-steps", "60", "--per-cycle-steps", "4",
                           "--json", "rows.json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("icarus"))
    assert "FAILED" not in line and "-" not in line.split()[1:], line
    (row,) = json.loads((tmp_path / "rows.json").read_text())
    assert row["steps"] == 60 and row["per_cycle_steps"] == 4
    for key in ("plain_steps_per_s", "batched_steps_per_s", "per_cycle_steps_per_s", "ratio"):
        assert row[key] is not None and row[key] > 0, key


def test_bad_steps_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([str(TRTRL), "bench", "axi", "--icarus-steps", "0"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "--icarus-steps" in proc.stderr
