"""`trtrl demo`: end to end with a short learning run (slow), its figures' facts and the README."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from trtrl.cmd_demo import register
from trtrl.testbenches.demo import figure_facts

EXPECTED = ("trtrl_axi.v", "trtrl_axi.json", "trtrl_regs.h", "learning_curves.png",
            "waves.vcd", "waves.gtkw", "waves.states.txt", "waves.regs.txt", "waves.resp.txt",
            "waves.png", "summary.json", "summary.md", "figures.json", "paper/report.md")


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
    assert s["top"] == "trtrl_axi" and s["harness"] == "batched"
    assert s["scoreboard"]["checked_values"] == 150 * 16 + 2 * 1022  # N+K a step; 2 states
    assert not (out / "trtrl_array.v").exists()
    assert s["verdict"] == lines[-1]
    assert "bit-exact with the fixed-point model | yes" in (out / "summary.md").read_text()
    gtkw = (out / "waves.gtkw").read_text()
    assert '[dumpfile] "waves.vcd"' in gtkw and "-Result stream m_axis" in gtkw
    assert "^1 waves.regs.txt" in gtkw
    # the figures' facts: the picture marks the steps its title names
    fig = s["figures"]
    png = fig["waves_png"]
    assert png["marked_steps"] == list(range(png["first"], png["last"] + 1))
    assert (png["first"], png["last"]) == tuple(s["waves"]["window_steps"])
    assert fig["gtkwave"]["first"] == 0 and fig["gtkwave"]["last"] == 2
    assert f"[timestart] {round(fig['gtkwave']['t0_ns'] * 1000)}" in gtkw
    assert fig["learning_curves"]["blocks"] == 1  # 150 steps: one block of 100
    assert (out / "waves.png").read_bytes()[:4] == b"\x89PNG"


def test_core_cycles_per_step_from_an_axi_dump(tmp_path: Path) -> None:
    from trtrl.testbenches.demo import core_step_cycles
    from trtrl.testbenches.test_waves import AXI_CORE_CYCLES, AXI_STEPS, write_axi_dump

    dump = write_axi_dump(tmp_path)
    assert core_step_cycles(dump.path) == [AXI_CORE_CYCLES] * AXI_STEPS


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


# -- the README's sentences about the demo's pictures ---------------------------------------
REPO = Path(__file__).resolve().parent.parent
IMG = REPO / "docs" / "img"


def _demo_text() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index("**The hardware learning**")
    return text[start:text.index("**Learning**", start)]


def readme_quotes(f: dict) -> list[str]:
    """The phrases of the README that carry the demo's numbers, made from its facts."""
    lc, png, gtk = f["learning_curves"], f["waves_png"], f["gtkwave"]
    hw, fl = lc["burst_hw"], lc["burst_float"]
    assert f["mse_hw"] == f["mse_fixed"] and f["bit_exact"]  # "for both"
    return [
        f"for {f['steps']:,} steps in {f['sim'].capitalize()}",
        f"MSE {f['mse_hw']:.2g} over the run for both, the float model {f['mse_float']:.2g}",
        f"The mean of each {lc['block_steps']} steps falls from {lc['first_block_mse_hw']:.2g}",
        f"learning rate (2^-{f['lr_shift']})",
        f"up to {hw['mse']:.2g} in steps {hw['first_step']:,} to {hw['last_step']:,}",
        f"burst {fl['first_step'] - hw['first_step']:,} steps later ({fl['mse']:.2g} in steps "
        f"{fl['first_step']:,} to {fl['last_step']:,})",
        f"Over the last {f['tail_steps']:,} steps the\nhardware's MSE is "
        f"{f['mse_hw_tail']:.2g}, the float model's {f['mse_float_tail']:.2g}",
        f"separate {f['waves_steps']}-step {f['waves_sim'].capitalize()} run",
        f"shows steps {png['first']} to {png['last']}, {png['t0_ns'] / 1000:.1f} to "
        f"{png['t1_ns'] / 1000:.1f} µs",
        f"{f['cycles_per_step']:.0f} clock cycles",
        f"on steps {gtk['first']} to {gtk['last']}, {gtk['t0_ns'] / 1000:.1f} to "
        f"{gtk['t1_ns'] / 1000:.1f} µs",
        f"markers A to {chr(ord('A') + gtk['named_markers'] - 1)} at the ends of the "
        f"{f['waves_steps']} steps",
        f"the values at the end of step {gtk['first']}",
    ]


def test_readme_quotes_the_demo_figures() -> None:
    """Every number the README states about the demo's pictures is one their code wrote.

    docs/img/demo_facts.json is written by ``make images`` from the demo's figures.json
    (the numbers the plotting code computed) with the hashes of the pictures it drew.
    """
    import hashlib

    facts = json.loads((IMG / "demo_facts.json").read_text())
    # the facts belong to the pictures beside them
    assert set(facts["images"]) == {"demo_learning_curves.png", "demo_waves.png",
                                    "demo_gtkwave.png"}
    for name, digest in facts["images"].items():
        assert hashlib.sha256((IMG / name).read_bytes()).hexdigest() == digest, name
    png = facts["waves_png"]
    assert png["marked_steps"] == list(range(png["first"], png["last"] + 1))
    text = " ".join(_demo_text().split())  # line breaks do not matter
    rest = text
    for quote in readme_quotes(facts):
        quote = " ".join(quote.split())
        assert quote in text, quote
        rest = rest.replace(quote, " ")
    # no other number: strip code spans and image links, then nothing numeric is left
    rest = re.sub(r"`[^`]*`|!\[[^\]]*\]\([^)]*\)", " ", rest)
    assert not re.findall(r"\d", rest), rest
