"""`trtrl demo` end to end with a short learning run (builds the N = 15 array: slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.cmd_demo import register

EXPECTED = ("trtrl_array.v", "trtrl_array.json", "learning_curves.png", "waves.vcd",
            "waves.gtkw", "waves.png", "summary.json", "summary.md", "paper/report.md")


@pytest.mark.slow
def test_demo_short(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    out = tmp_path / "demo"
    args = parser.parse_args(["demo", "-o", str(out), "--steps", "150"])
    assert args.handler(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("PASS: hardware matched the fixed-point model bit for bit "
                                "over 150 steps"), lines[-1]
    for name in EXPECTED:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert not list(tmp_path.glob(".demo.tmp-*")), "temporary folder left behind"
    s = json.loads((out / "summary.json").read_text())
    assert s["passed"] and s["bit_exact"] and s["steps"] == 150
    assert s["mse_hw"] == s["mse_fixed"]
    assert s["cycles_per_step"] == s["manifest_cycles_per_step"]
    assert s["learned_within_margin"] is None  # too short to judge
    assert s["verdict"] == lines[-1]
    assert "bit-exact with the fixed-point model | yes" in (out / "summary.md").read_text()
    gtkw = (out / "waves.gtkw").read_text()
    assert '[dumpfile] "waves.vcd"' in gtkw
    assert (out / "waves.png").read_bytes()[:4] == b"\x89PNG"
