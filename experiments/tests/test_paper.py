"""The paper experiment, its report helpers, the bench and the demo command."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from trtrl.experiments import paper
from trtrl.pymodel import bench
from trtrl.pymodel import report as rep
from trtrl.pymodel.errors import ConfigError, TrtrlError

# ------------------------------------------------------------------ report helpers


def test_atomic_folder_creates_and_replaces(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "rep"
    with rep.atomic_folder(dest) as tmp:
        assert tmp != dest and tmp.parent == dest.parent
        (tmp / "a.txt").write_text("1")
    assert (dest / "a.txt").read_text() == "1"
    with rep.atomic_folder(dest) as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in dest.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["rep"]  # no leftovers


def test_atomic_folder_failure_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "rep"
    with pytest.raises(RuntimeError), rep.atomic_folder(dest) as tmp:
        (tmp / "half.txt").write_text("x")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_folder_failure_keeps_old_report(tmp_path: Path) -> None:
    dest = tmp_path / "rep"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), rep.atomic_folder(dest) as tmp:
        (tmp / "new.txt").write_text("new")
        raise RuntimeError("boom")
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]
    assert (dest / "old.txt").read_text() == "old"


def test_atomic_folder_refuses_a_file(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("")
    with pytest.raises(TrtrlError, match="not a folder"), rep.atomic_folder(f):
        pass


def test_markdown_table_and_csv(tmp_path: Path) -> None:
    md = rep.markdown_table(["a", "b"], [[1, 0.123456789], ["x|y", None], [np.float64(2), True]])
    lines = md.strip().splitlines()
    assert lines[0] == "| a | b |" and lines[1] == "| --- | --- |"
    assert lines[2] == "| 1 | 0.1235 |"
    assert lines[3] == "| x\\|y | - |"
    assert lines[4] == "| 2 | yes |"
    with pytest.raises(ValueError):
        rep.markdown_table(["a"], [[1, 2]])
    path = rep.write_csv(tmp_path / "t.csv", ["a", "b"], [[np.int64(1), 0.1]])
    assert list(csv.reader(path.open())) == [["a", "b"], ["1", "0.1"]]


def test_write_json_plain_and_atomic(tmp_path: Path) -> None:
    path = rep.write_json(tmp_path / "sub" / "r.json",
                          {"a": np.float64(1.5), "b": np.arange(3), 4: float("inf")})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [0, 1, 2], "4": "inf"}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]
    info = rep.environment_info()
    assert {"python", "numpy", "matplotlib", "date_utc"} <= info.keys()


def test_moving_average() -> None:
    x = np.array([1.0, 3.0, 5.0, 7.0])
    np.testing.assert_allclose(rep.moving_average(x, 2), [1.0, 2.0, 4.0, 6.0])
    np.testing.assert_allclose(rep.moving_average(x, 100), np.cumsum(x) / np.arange(1, 5))


# ------------------------------------------------------------------ resources (c)


def test_resources_match_the_slides_example() -> None:
    rows = paper.resource_rows([100], [10], m=1)
    get = {r["algorithm"]: r for r in rows}
    n, k, L = 100, 10, 102
    # RTRL: "100 million multiplications", N^2 L words ("over 2 MB" at 16 bit)
    assert get["rtrl"]["slide_multiplies"] == 100_000_000
    assert 1.0 <= get["rtrl"]["multiplies_ratio"] < 1.05
    assert get["rtrl"]["stored"] == n * n * L
    assert get["rtrl"]["kB_16bit"] > 2000
    # TRTRL: O(2 K N^2) multiplies (within 2x of the formula), (K + 2) N L words
    assert get["trtrl"]["slide_multiplies"] == 2 * k * n * n
    assert 1.0 <= get["trtrl"]["multiplies_ratio"] < 2.0
    assert get["trtrl"]["stored"] == (k + 2) * n * L
    assert get["snap1"]["slide_multiplies"] is None and get["snap1"]["stored"] == n * L


def test_resource_rows_skip_k_above_n() -> None:
    rows = paper.resource_rows([5, 20], [10], m=1)
    assert {r["n"] for r in rows} == {20}


# ------------------------------------------------------------------ experiment


def _tiny(**kw: object) -> paper.Settings:
    base = dict(fd_steps=300, mg_steps=200, sizes=[5, 8], rtrl_max_n=5, repeats=1,
                resource_sizes=[5, 10], resource_outputs=[1], spread_seeds=2, progress=False)
    base.update(kw)
    return paper.Settings(**base)  # type: ignore[arg-type]


def test_paper_run_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "paper"
    summary = paper.run(_tiny(), out)
    names = {p.name for p in out.iterdir()}
    assert {"report.md", "report.json", "learning_curves.png", "timing.png", "resources.png",
            "final_mse.csv", "timing.csv", "resources.csv", "learning_curves.csv",
            "seed_spread.csv"} <= names
    data = json.loads((out / "report.json").read_text())
    assert data["settings"]["seed"] == 0 and data["settings"]["fd_steps"] == 300
    assert data["environment"]["numpy"] == np.__version__
    fd = data["results"]["final_mse"]["freq-doubler"]
    assert set(fd) == {"rtrl", "trtrl", "snap1"}
    md = (out / "report.md").read_text()
    assert summary["verdict"] in md and "TRTRL" in summary["verdict"]
    assert ("within 2x" in md) and "last 10%" in md
    assert len(summary["seed_spread_freq_doubler"]) == 2
    # RTRL only timed up to rtrl_max_n
    assert set(data["results"]["timing_ms"]["rtrl"]) == {"5"}
    assert set(data["results"]["timing_ms"]["trtrl"]) == {"5", "8"}
    assert list(tmp_path.iterdir()) == [out]


def test_same_initial_weights_and_lr_for_all_algorithms() -> None:
    settings = _tiny()
    cases = paper.task_cases(settings)
    fd = cases["freq-doubler"]
    assert fd.n == paper.FD_NEURONS and cases["mackey-glass"].n == paper.MG_NEURONS
    runs = {a: paper.run_learning(fd, a) for a in paper.ALGORITHMS}
    # identical first error: same w0, same input; the runs differ only by the algorithm
    first = {a: r.sq_err[0] for a, r in runs.items()}
    assert len(set(first.values())) == 1


def test_paper_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("plot failed")

    monkeypatch.setattr(paper, "plot_resources", boom)
    with pytest.raises(RuntimeError):
        paper.run(_tiny(spread_seeds=0), tmp_path / "paper")
    assert list(tmp_path.iterdir()) == []


def test_verdict_text() -> None:
    def lr(mse: float) -> paper.LearningRun:
        return paper.LearningRun("freq-doubler", "x", np.zeros(1), mse, 0.0, False)

    text, ok = paper.verdict({"freq-doubler": {"rtrl": lr(1e-3), "trtrl": lr(1.9e-3)}})
    assert ok and "within 2x" in text and "1.900e-03" in text
    text, ok = paper.verdict({"freq-doubler": {"rtrl": lr(1e-3), "trtrl": lr(3e-3)}})
    assert not ok and "NOT within" in text


def test_cli_paper_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trtrl.cli import main

    out = tmp_path / "p"
    rc = main(["experiment", "paper", "-o", str(out), "--steps", "200", "--mg-steps", "100",
               "--sizes", "5", "--rtrl-max-n", "5", "--repeats", "1", "--no-progress",
               "--quick"])
    assert rc == 0 and (out / "report.md").exists()
    assert "Frequency doubler final MSE" in capsys.readouterr().out
    assert main(["experiment", "paper", "-o", str(out), "--steps", "5", "--quick"]) == 2
    assert main(["experiment", "paper", "-o", str(out), "--sizes", "a,b"]) == 2


# ------------------------------------------------------------------ bench


def test_fit_exponent_and_parse_sizes() -> None:
    ns = [100, 200, 400]
    assert bench.fit_exponent(ns, [3e-6 * n**2 for n in ns]) == pytest.approx(2.0)
    assert bench.parse_sizes("50, 10,10") == [10, 50]
    with pytest.raises(ConfigError):
        bench.parse_sizes("0,5")
    with pytest.raises(ConfigError):
        bench.parse_sizes("x")


def test_check_targets_pass_fail_na() -> None:
    res = bench.BenchResult(sizes=[100, 200, 400], m=1, k=1, repeats=1)
    res.timings = [bench.Timing("rtrl", 100, 0.02), bench.Timing("trtrl", 100, 1e-4),
                   bench.Timing("trtrl", 200, 4e-4), bench.Timing("trtrl", 400, 3e-3)]
    res.target_timings = [bench.Timing("rtrl", 100, 0.021, k=10),
                          bench.Timing("trtrl", 100, 5e-4, k=10),
                          bench.Timing("fixed", 15, 2e-5), bench.Timing("fixed", 100, 2.5e-4, k=10)]
    res.matmul[100] = 0.015
    t = {x.name: x for x in bench.check_targets(res)}
    assert list(t) == ["rtrl_vs_matmul", "trtrl_speedup", "trtrl_speedup_k", "fixed_small",
                       "fixed_large", "trtrl_scaling"]
    assert t["rtrl_vs_matmul"].passed is True  # 1.33x
    assert t["rtrl_vs_matmul"].value == pytest.approx(0.02 / 0.015)
    assert t["trtrl_speedup"].passed is True and t["trtrl_speedup"].measured == "200x"
    assert t["trtrl_speedup_k"].passed is False and t["trtrl_speedup_k"].measured == "42x"
    assert t["fixed_small"].passed is True and t["fixed_small"].measured == "50,000"
    assert t["fixed_large"].passed is False and t["fixed_large"].value == pytest.approx(4000)
    assert t["trtrl_scaling"].passed is False  # slope 2.45
    assert t["trtrl_scaling"].measured == "N^2.45"
    res.timings[1] = bench.Timing("trtrl", 100, 1.01e-4)
    assert bench.check_targets(res)[1].passed is False  # 198x < 200x
    empty = bench.BenchResult(sizes=[10], m=1, k=1, repeats=1)
    assert all(x.verdict == "N/A" for x in bench.check_targets(empty))


def test_run_bench_small_and_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    res = bench.run_bench([3, 6], repeats=1, rtrl_full_max=3, rtrl_max=3,
                          matmul_sizes=[6], max_seconds=0.5, targets=False)
    rt = {t.n: t for t in res.timings if t.algorithm == "rtrl"}
    assert rt[3].measured and not rt[6].measured and "skipped" in rt[6].note
    assert rt[6].estimate == pytest.approx(rt[3].seconds * 2**4)
    assert all(t.measured for t in res.timings if t.algorithm != "rtrl")
    assert {t.algorithm for t in res.timings} == {"rtrl", "trtrl", "snap1", "fixed"}
    assert not res.targets and not res.target_timings
    assert "Per-step time" in bench.format_result(res)


def test_bench_command_prints_every_target(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    """`trtrl bench model` on tiny sizes: each target is measured at its own (here shrunk)
    size and printed with its figure, goal and verdict; the growth target needs N = 100
    and 400 in the table, so it is N/A."""
    from trtrl.cli import main

    js = tmp_path / "b.json"
    tiny = ["--repeats", "1", "--target-n", "5", "--target-small-n", "3", "--target-k", "2"]
    assert main(["bench", "model", "--sizes", "4", *tiny, "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert "Per-step time" in out and "Targets (M=1, kernel numba)" in out
    rows = {
        "float RTRL step / NxN by NxNL matmul, N=5 K=1": "<= 1.5x",
        "float TRTRL speed-up over RTRL, N=5 K=1": ">= 200x",
        "float TRTRL speed-up over RTRL, N=5 K=2": ">= 50x",
        "fixed-point steps/s, N=3 K=1": ">= 30,000",
        "fixed-point steps/s, N=5 K=2": ">= 5,000",
        "float TRTRL time growth, N=100..400 K=1": "<= N^2.2",
    }
    lines = out.splitlines()
    for figure, goal in rows.items():
        line = next(x for x in lines if figure in x)
        assert goal in line
        assert ("[N/A]" in line) == ("growth" in figure), line
        assert "[PASS]" in line or "[FAIL]" in line or "growth" in figure
    data = json.loads(js.read_text())
    assert data["sizes"] == [4] and data["kernel"] == "numba"
    assert [t["name"] for t in data["targets"]] == [
        "rtrl_vs_matmul", "trtrl_speedup", "trtrl_speedup_k", "fixed_small", "fixed_large",
        "trtrl_scaling"]
    assert {(t["algorithm"], t["n"], t["k"]) for t in data["target_timings"]} >= {
        ("rtrl", 5, 2), ("trtrl", 5, 2), ("fixed", 3, 1), ("fixed", 5, 2)}
    # --strict: at N = 5 TRTRL is nowhere near 200x faster than RTRL, so a target fails
    assert main(["bench", "model", "--sizes", "4", *tiny, "--kernel", "numpy",
                 "--strict"]) == 1
    assert "kernel numpy" in capsys.readouterr().out


# ------------------------------------------------------------------ demo


def test_demo_runs_stages_and_prints_a_verdict(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from trtrl import cmd_demo
    from trtrl.cli import main

    def fake(out: Path, args: object) -> cmd_demo.StageResult:
        return cmd_demo.StageResult("fake", True, "all good", out / "x")

    monkeypatch.setattr(cmd_demo, "STAGES", [("fake", fake)])
    assert main(["demo", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[PASS] fake: all good" in out and "demo: PASS" in out

    def bad(out: Path, args: object) -> cmd_demo.StageResult:
        return cmd_demo.StageResult("bad", False, "no", out)

    monkeypatch.setattr(cmd_demo, "STAGES", [("fake", fake), ("bad", bad)])
    assert main(["demo", "-o", str(tmp_path)]) == 1
    assert "demo: FAIL" in capsys.readouterr().out


def test_blas_threads_restores_the_count() -> None:
    before = bench.blas_thread_count()
    with bench.blas_threads(1) as used:
        if before is not None:
            assert used == 1 == bench.blas_thread_count()
    assert bench.blas_thread_count() == before
    with bench.blas_threads(None) as used:
        assert used == before


def test_unstable_fraction_and_window_mse() -> None:
    sq = np.concatenate([np.full(500, 0.01), np.full(500, 1.0)])  # saturated second half
    frac = paper.unstable_fraction(sq, variance=0.2)
    assert 0.45 < frac < 0.55
    assert paper.unstable_fraction(np.full(100, np.nan), variance=0.2) == 1.0
    assert paper.window_mse(sq, 500) == pytest.approx(0.01)
    assert paper.window_mse(sq, 1000) == pytest.approx(1.0)
