"""`trtrl data` and `trtrl model run` through the CLI dispatcher (in-process)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import trtrl.cli as cli
from trtrl.pymodel.cases import load_case, load_trace, save_case, save_npz_atomic, validate_case
from trtrl.pymodel.tests.test_cases import MALFORMED, good_arrays, malformed


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]
            ) -> Callable[..., tuple[int, str, str]]:
    """``main(argv)`` in this process; (exit code, stdout, stderr)."""
    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_user_error(result: tuple[int, str, str], *needles: str) -> None:
    code, _, err = result
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("trtrl: error: "), err
    for needle in needles:
        assert needle in err, err


@pytest.mark.parametrize(("edit", "key"), [(e, k) for _, e, k in MALFORMED],
                         ids=[name for name, _, _ in MALFORMED])
def test_model_run_refuses_malformed_case(
    run_cli: Callable[..., tuple[int, str, str]], tmp_path: Path,
    edit: Callable[[dict[str, Any]], None], key: str,
) -> None:
    case_path, out = tmp_path / "bad.npz", tmp_path / "out" / "trace.npz"
    np.savez(case_path, **malformed(edit))
    assert_user_error(run_cli("model", "run", case_path, "-o", out), f"error: {key}:")
    assert not out.exists() and not out.parent.exists()


def test_model_run_missing_and_garbage_files(run_cli: Callable[..., tuple[int, str, str]],
                                             tmp_path: Path) -> None:
    out = tmp_path / "trace.npz"
    assert_user_error(run_cli("model", "run", tmp_path / "none.npz", "-o", out), "none.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("not a zip")
    assert_user_error(run_cli("model", "run", garbage, "-o", out), "garbage.npz")
    assert list(tmp_path.iterdir()) == [garbage]


def test_model_run_negative_weights_every(run_cli: Callable[..., tuple[int, str, str]],
                                          tmp_path: Path) -> None:
    case_path, out = tmp_path / "case.npz", tmp_path / "trace.npz"
    save_npz_atomic(case_path, **good_arrays())
    assert_user_error(run_cli("model", "run", case_path, "-o", out, "--weights-every", "-1"),
                      "--weights-every")
    assert not out.exists()


@pytest.mark.parametrize("algorithm", ["rtrl", "trtrl", "snap1"])
def test_model_run_matches_the_model(run_cli: Callable[..., tuple[int, str, str]],
                                     tmp_path: Path, algorithm: str) -> None:
    from trtrl.pymodel.models import make_model

    arrays = good_arrays(t=12, m=2, n=4, k=2)
    arrays["algorithm"] = np.array(algorithm)
    case_path, out = tmp_path / "case.npz", tmp_path / "trace.npz"
    np.savez(case_path, **arrays)
    code, stdout, err = run_cli("model", "run", case_path, "-o", out, "--no-progress")
    assert code == 0, err
    assert str(out) in stdout and stdout.count("\n") == 1
    trace = load_trace(out)
    case = validate_case(arrays)
    expected = make_model(algorithm, case.w0, case.m, case.k, case.lr, case.activation).run(
        case.x, case.d)
    assert trace["y"].shape == (12, 4) and trace["e"].shape == (12, 2)
    assert trace["w"].shape == (12, 4, 2 + 1 + 4)
    for key in ("y", "e", "w", "w_step"):
        np.testing.assert_array_equal(trace[key], expected[key])
    assert trace["y"].dtype == trace["e"].dtype == trace["w"].dtype == np.float64
    np.testing.assert_array_equal(trace["w_step"], np.arange(12))
    assert str(trace["algorithm"]) == algorithm and float(trace["lr"]) == case.lr
    # e is d - y of the output neurons
    np.testing.assert_allclose(trace["e"], case.d - trace["y"][:, :2], atol=0)


@pytest.mark.parametrize(("every", "steps"), [
    (1, list(range(10))), (3, [2, 5, 8, 9]), (5, [4, 9]), (0, [9]), (20, [9]),
])
def test_weights_every(run_cli: Callable[..., tuple[int, str, str]], tmp_path: Path,
                       every: int, steps: list[int]) -> None:
    arrays = good_arrays(t=10)
    case_path = tmp_path / "case.npz"
    np.savez(case_path, **arrays)
    full, thin = tmp_path / "full.npz", tmp_path / "thin.npz"
    assert run_cli("model", "run", case_path, "-o", full)[0] == 0
    assert run_cli("model", "run", case_path, "-o", thin, "--weights-every", every)[0] == 0
    full_trace, thin_trace = load_trace(full), load_trace(thin)
    np.testing.assert_array_equal(thin_trace["w_step"], steps)
    np.testing.assert_array_equal(thin_trace["w"], full_trace["w"][steps])
    np.testing.assert_array_equal(thin_trace["y"], full_trace["y"])
    np.testing.assert_array_equal(thin_trace["e"], full_trace["e"])


def test_progress_bar_on_request(run_cli: Callable[..., tuple[int, str, str]],
                                 tmp_path: Path) -> None:
    case_path, out = tmp_path / "case.npz", tmp_path / "trace.npz"
    np.savez(case_path, **good_arrays())
    code, _, err = run_cli("model", "run", case_path, "-o", out, "--progress")
    assert code == 0 and "step" in err
    code, _, err = run_cli("model", "run", case_path, "-o", out)  # short run: no bar
    assert code == 0 and err == ""


def test_data_freq_doubler(run_cli: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    out = tmp_path / "cases" / "fd.npz"
    code, stdout, _ = run_cli("data", "freq-doubler", "--steps", 40, "--neurons", 5,
                              "--seed", 2, "--lr", 0.07, "--algorithm", "rtrl",
                              "--activation", "sigmoid", "-o", out)
    assert code == 0 and stdout.startswith(f"wrote {out}") and stdout.count("\n") == 1
    case = load_case(out)
    assert (case.steps, case.n, case.m, case.k) == (40, 5, 1, 1)
    assert (case.lr, case.algorithm, case.activation) == (0.07, "rtrl", "sigmoid")
    assert str(case.extra["task"]) == "freq-doubler"


def test_data_mackey_glass_then_run(run_cli: Callable[..., tuple[int, str, str]],
                                    tmp_path: Path) -> None:
    case_path, out = tmp_path / "mg.npz", tmp_path / "mg_trace.npz"
    code, _, _ = run_cli("data", "mackey-glass", "--steps", 30, "--neurons", 4,
                         "--horizon", 3, "--tau", 17, "-o", case_path)
    assert code == 0
    case = load_case(case_path)
    assert (case.steps, case.n, int(case.extra["horizon"])) == (30, 4, 3)
    assert case.extra["series"].shape == (33,)
    assert run_cli("model", "run", case_path, "-o", out, "--weights-every", 0)[0] == 0
    trace = load_trace(out)
    assert trace["w"].shape == (1, 4, 1 + 1 + 4)
    assert np.all(np.isfinite(trace["y"]))


def test_data_bad_parameter_is_user_error(run_cli: Callable[..., tuple[int, str, str]],
                                          tmp_path: Path) -> None:
    out = tmp_path / "fd.npz"
    assert_user_error(run_cli("data", "freq-doubler", "--steps", 0, "-o", out), "steps")
    assert_user_error(run_cli("data", "mackey-glass", "--tau", 17.03, "-o", out), "tau")
    assert not out.exists()


def test_run_overwrites_atomically(run_cli: Callable[..., tuple[int, str, str]],
                                   tmp_path: Path) -> None:
    case_path, out = tmp_path / "case.npz", tmp_path / "trace.npz"
    save_case(case_path, validate_case(good_arrays()))
    out.write_text("old")
    assert run_cli("model", "run", case_path, "-o", out)[0] == 0
    assert load_trace(out)["y"].shape == (5, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.npz", "trace.npz"]


def test_model_run_fixed_matches_the_fixed_model(
        run_cli: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    from trtrl.pymodel.fixed.formats import FixedConfig, FixedFormat
    from trtrl.pymodel.fixed.model import fixed_trace

    arrays = good_arrays(t=10, m=1, n=3, k=1)
    case_path, out = tmp_path / "case.npz", tmp_path / "trace.npz"
    np.savez(case_path, **arrays)
    code, _, err = run_cli("model", "run", case_path, "--fixed", "--weight-format", "20.15",
                           "--lr-shift", "3", "-o", out, "--no-progress")
    assert code == 0, err
    trace = load_trace(out)
    cfg = FixedConfig(weight=FixedFormat(20, 15))
    expected = fixed_trace(validate_case(arrays), cfg, lr_shift=3)
    for key in ("y", "e", "w", "p_out", "p_ing", "p_egr", "sat"):
        assert trace[key].dtype == np.int64
        np.testing.assert_array_equal(trace[key], expected[key])
    assert str(trace["fmt_W"]) == "20.15" and int(trace["lr_shift"]) == 3


def test_model_run_fixed_bad_format_writes_nothing(
        run_cli: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    case_path, out = tmp_path / "case.npz", tmp_path / "trace.npz"
    np.savez(case_path, **good_arrays(t=4, m=1, n=3, k=1))
    assert_user_error(run_cli("model", "run", case_path, "--fixed", "--sens-format", "16",
                              "-o", out), "--sens-format")
    assert not out.exists()


def test_fixed_run_of_the_papers_size_needs_no_format_options(trtrl_cmd: list[str],
                                                              tmp_path: Path) -> None:
    """N = 100 (L = 102) needs a 41-bit forward sum: the default widens, as a user runs it."""
    import subprocess

    def trtrl(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*trtrl_cmd, *argv], cwd=tmp_path, capture_output=True,
                              text=True, timeout=600)

    made = trtrl("data", "freq-doubler", "--neurons", "100", "--steps", "12", "-o", "case.npz")
    assert made.returncode == 0, made.stderr
    run = trtrl("model", "run", "case.npz", "--fixed", "-o", "trace.npz")
    assert run.returncode == 0, run.stderr
    trace = np.load(tmp_path / "trace.npz")
    assert int(trace["acc_bits"]) == 41 and trace["y"].shape == (12, 100)
    # Only a width asked for explicitly is refused, in one line, writing nothing.
    narrow = trtrl("model", "run", "case.npz", "--fixed", "--acc-bits", "40", "-o", "t40.npz")
    assert narrow.returncode == 2 and not (tmp_path / "t40.npz").exists()
    assert narrow.stderr.strip() == (
        "trtrl: error: acc_bits: 40 too narrow for L=102 columns (needs 41)"), narrow.stderr
