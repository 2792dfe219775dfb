"""`trtrl demo` end to end with a short learning run (builds the N = 15 array: slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.cmd_demo import register
from testbenches.demo import figure_facts

EXPECTED = ("trtrl_array.v", "trtrl_array.json", "learning_curves.png", "waves.vcd",
            "waves.gtkw", "waves.states.txt", "waves.png", "summary.json", "summary.md",
            "figures.json", "paper/report.md")


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
    # the figures' facts: the picture marks the steps its title names
    fig = s["figures"]
    png = fig["waves_png"]
    assert png["marked_steps"] == list(range(png["first"], png["last"] + 1))
    assert (png["first"], png["last"]) == tuple(s["waves"]["window_steps"])
    assert fig["gtkwave"]["first"] == 0 and fig["gtkwave"]["last"] == 2
    assert f"[timestart] {round(fig['gtkwave']['t0_ns'] * 1000)}" in gtkw
    assert fig["learning_curves"]["blocks"] == 1  # 150 steps: one block of 100
    assert (out / "waves.png").read_bytes()[:4] == b"\x89PNG"


def test_figure_facts_find_the_burst_after_the_descent() -> None:
    # falls from 0.4 below 0.04 at block 3, bursts to 0.09 at block 6
    curve = [0.4, 0.3, 0.1, 0.03, 0.01, 0.02, 0.09, 0.01, 0.005]
    flat = [0.4, 0.2, 0.03, 0.02, 0.01]
    f = figure_facts(curve, flat)
    assert f["burst_hw"] == {"block": 6, "first_step": 600, "last_step": 699, "mse": 0.09}
    assert f["burst_float"]["block"] == 2  # no burst: the largest block after the fall
    assert f["first_block_mse_hw"] == 0.4 and f["last_block_mse_hw"] == 0.005
    assert f["last_block_mse_float"] == 0.01 and f["blocks"] == 9
    assert figure_facts([0.4, 0.3], [0.4, 0.3])["burst_hw"]["block"] is None  # never fell
