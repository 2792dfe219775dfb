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
from trtrl.pymodel.paths import parse_jobs

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
                resource_sizes=[5, 10], resource_outputs=[1], fd_lrs=[0.01, 0.1],
                mg_lrs=[0.01, 0.1], tune_seeds=[0, 1], eval_seeds=[7, 8], progress=False)
    base.update(kw)
    return paper.Settings(**base)  # type: ignore[arg-type]


def test_paper_run_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "paper"
    summary = paper.run(_tiny(), out)
    names = {p.name for p in out.iterdir()}
    assert names == {"report.md", "report.json", "final_mse_spread.png", "learning_curves.png",
                     "lr_tuning.png", "timing.png", "resources.png", "final_mse.csv",
                     "final_mse_per_seed.csv", "lr_tuning.csv", "learning_curves.csv",
                     "timing.csv", "resources.csv"}
    data = json.loads((out / "report.json").read_text())
    assert data["settings"]["fd_steps"] == 300
    assert data["tuning_seeds"] == [0, 1] and data["evaluation_seeds"] == [7, 8]
    assert data["environment"]["numpy"] == np.__version__
    fd = data["results"]["comparison"]["freq-doubler"]
    assert set(fd["algorithms"]) == {"rtrl", "trtrl", "snap1"} and fd["lrs"] == [0.01, 0.1]
    md = (out / "report.md").read_text()
    assert summary["verdict"] in md and "TRTRL" in summary["verdict"]
    assert "within 2x" in md and "last 10%" in md
    # RTRL only timed up to rtrl_max_n
    assert set(data["results"]["timing_ms"]["rtrl"]) == {"5"}
    assert set(data["results"]["timing_ms"]["trtrl"]) == {"5", "8"}
    assert list(tmp_path.iterdir()) == [out]
    # the per-seed CSV holds every evaluation run at the algorithm's chosen rate
    rows = list(csv.DictReader((out / "final_mse_per_seed.csv").open()))
    assert len(rows) == 2 * 3 * 2
    for r in rows:
        chosen = data["results"]["comparison"][r["task"]]["algorithms"][r["algorithm"]]["lr"]
        assert float(r["lr"]) == chosen


def test_task_case_is_the_task_functions_case() -> None:
    """The comparison swaps a seed's weights into a cached case; that must be exactly the
    case the task functions make from that seed and rate."""
    from trtrl.experiments import comparison as cmp
    from trtrl.pymodel.tasks import freq_doubler_case, mackey_glass_case

    fd = cmp.task_case(cmp.TaskSetup("freq-doubler", 300, 0.5, (0.1,)), 7, 0.1)
    ref = freq_doubler_case(300, neurons=15, seed=7, lr=0.1, weight_scale=0.5)
    mg = cmp.task_case(cmp.TaskSetup("mackey-glass", 200, 0.3, (0.1,)), 5, 0.03)
    ref2 = mackey_glass_case(200, neurons=25, seed=5, lr=0.03, weight_scale=0.3)
    for got, want in ((fd, ref), (mg, ref2)):
        assert got.lr == want.lr and got.activation == want.activation
        for key in ("x", "d", "w0"):
            np.testing.assert_array_equal(getattr(got, key), getattr(want, key))
        assert int(got.extra["seed"]) == int(want.extra["seed"])
    # another seed, other weights
    assert not np.array_equal(fd.w0, cmp.task_case(
        cmp.TaskSetup("freq-doubler", 300, 0.5, (0.1,)), 8, 0.1).w0)


def test_results_do_not_depend_on_the_worker_count() -> None:
    from trtrl.experiments import comparison as cmp

    setup = cmp.TaskSetup("freq-doubler", 400, 0.5, (0.05,))
    jobs = [cmp.Job("eval", setup, alg, 0.05, seed) for alg in cmp.ALGORITHMS for seed in (3, 4)]
    bar = rep.progress(0, "", enabled=False)
    with cmp.Runner(1, bar) as one:
        serial = one.run(jobs)
    with cmp.Runner(2, bar) as two:
        parallel = two.run(jobs)
    assert set(serial) == set(parallel) == set(jobs)
    for job in jobs:
        a, b = serial[job], parallel[job]
        assert a.final_mse == b.final_mse and a.quarter_mse == b.quarter_mse
        np.testing.assert_array_equal(a.curve, b.curve)


def test_same_initial_weights_for_all_algorithms() -> None:
    case = paper.fd_case(_tiny(), seed=3)
    assert case.n == paper.FD_NEURONS
    runs = {a: paper.run_learning(case, a) for a in paper.ALGORITHMS}
    # identical first error: same w0, same input; the runs differ only by the algorithm
    first = {a: r.sq_err[0] for a, r in runs.items()}
    assert len(set(first.values())) == 1


def test_paper_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("plot failed")

    monkeypatch.setattr(paper, "plot_resources", boom)
    with pytest.raises(RuntimeError):
        paper.run(_tiny(eval_seeds=[9]), tmp_path / "paper")
    assert list(tmp_path.iterdir()) == []


def test_divergence_learned_and_criterion_definitions() -> None:
    from trtrl.experiments import comparison as cmp

    var = 0.4
    assert not cmp.is_diverged(0.8, var) and cmp.is_diverged(0.81, var)
    assert cmp.is_diverged(float("nan"), var) and cmp.is_diverged(float("inf"), var)
    assert cmp.is_learned(0.039, var) and not cmp.is_learned(0.041, var)
    # a diverged run counts as +inf: the median of 3 survives one, not two
    assert cmp.tuning_criterion([1e-3, 2e-3, 1.4], [False, False, True]) == 2e-3
    assert cmp.tuning_criterion([1e-3, 1.4, 1.4], [False, True, True]) == float("inf")
    assert cmp.tuning_criterion([1e-3, 1.4], [False, True]) == float("inf")
    assert cmp.tuning_criterion([1e-3, float("nan"), 3e-3], [False, False, False]) == 3e-3
    rows = [{"lr": 0.1, "criterion": 1.0}, {"lr": 0.03, "criterion": 1.0},
            {"lr": 0.01, "criterion": 2.0}]
    assert cmp.choose_lr(rows) == 0.03  # tie goes to the smaller rate
    rows = [{"lr": 0.1, "criterion": float("inf")}, {"lr": 0.3, "criterion": float("inf")}]
    assert cmp.choose_lr(rows) == 0.1


def test_similar_performance_definition() -> None:
    from trtrl.experiments import comparison as cmp

    var = 0.4
    ok = cmp.similar_performance([2e-3, 3e-3, 4e-3], [1e-3, 1.5e-3, 9e-3], var)
    assert ok["holds"] and ok["median_ratio"] == pytest.approx(2.0)
    worse = cmp.similar_performance([2e-3, 3.1e-3, 4e-3], [1e-3, 1.5e-3, 9e-3], var)
    assert not worse["holds"]
    better = cmp.similar_performance([1e-6, 1e-6, 1e-6], [1e-3, 1e-3, 1e-3], var)
    assert better["holds"]  # one-sided: better counts as similar
    more_div = cmp.similar_performance([1e-4, 1e-4, 1.4], [1e-3, 1e-3, 1e-3], var)
    assert not more_div["holds"] and more_div["trtrl_diverged"] == 1
    same_div = cmp.similar_performance([1e-4, 1e-4, 1.4], [1e-3, 1.4, 1e-3], var)
    assert same_div["holds"] and same_div["rtrl_diverged"] == 1


def test_verdict_text() -> None:
    from trtrl.experiments import comparison as cmp

    def task(holds: bool, ratio: float) -> dict:
        return {"similar_performance": {"holds": holds, "median_ratio": ratio,
                                        "trtrl_diverged": 0, "rtrl_diverged": 2},
                "algorithms": {"rtrl": {"final_mse": [0.0] * 16}}}

    text, ok = cmp.verdict({"freq-doubler": task(True, 0.08), "mackey-glass": task(False, 3)})
    assert not ok
    assert "freq-doubler holds (median TRTRL/RTRL 0.08, diverged 0 vs 2 of 16)" in text
    assert "mackey-glass does NOT hold (median TRTRL/RTRL 3" in text
    text, ok = cmp.verdict({"freq-doubler": task(True, 1.5)})
    assert ok and "within 2x" in text


def test_seed_and_rate_parsing() -> None:
    assert paper.parse_seeds("0-2, 5,9-9", "s") == [0, 1, 2, 5, 9]
    for bad in ("a", "3-1", "1-x"):
        with pytest.raises(ConfigError, match="^s: expected seeds"):
            paper.parse_seeds(bad, "s")
    assert paper.parse_lrs("0.1, 0.01", "g") == [0.01, 0.1]
    with pytest.raises(ConfigError, match="^g: "):
        paper.parse_lrs("0.1,x", "g")
    assert parse_jobs("3") == 3 and parse_jobs("auto") >= 1
    with pytest.raises(ConfigError):
        parse_jobs("0")


@pytest.mark.parametrize(("change", "message"), [
    ({"fd_lrs": []}, "fd-lrs: the learning-rate grid is empty"),
    ({"mg_lrs": [0.01, 0.0]}, "mg-lrs: learning rates must be finite and > 0"),
    ({"fd_lrs": [0.01, 0.01]}, "fd-lrs: a learning rate is repeated"),
    ({"eval_seeds": []}, "eval-seeds: need at least 1 evaluation seed"),
    ({"tune_seeds": []}, "tune-seeds: need at least 1 tuning seed"),
    ({"tune_seeds": [0, 1, 2], "eval_seeds": [2, 3]}, r"overlap \(seeds 2\)"),
    ({"seed": -5}, "must be >= 0"),
    ({"fd_steps": 5}, "need at least 10 steps"),
    ({"jobs": 0}, "jobs: must be >= 1"),
])
def test_bad_settings_are_refused(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _tiny(**change).validate()


def test_cli_bad_input_one_line_error_nothing_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trtrl.cli import main

    out = tmp_path / "p"
    cases = [(["--steps", "5", "--quick"], "need at least 10 steps"),
             (["--sizes", "a,b"], "sizes"),
             (["--fd-lrs", ","], "fd-lrs: the learning-rate grid is empty"),
             (["--eval-seeds", ","], "eval-seeds: need at least 1 evaluation seed"),
             (["--tune-seeds", "0-4", "--eval-seeds", "4-10"], "overlap"),
             (["-j", "none"], "jobs")]
    for argv, message in cases:
        assert main(["experiment", "paper", "-o", str(out), *argv]) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One `trtrl experiment paper --quick` from another working directory, with a
    relative output folder (the run the demo makes); its report is shared by the tests
    below."""
    import subprocess
    import sys

    cwd = tmp_path_factory.mktemp("elsewhere")
    trtrl = Path(sys.executable).parent / "trtrl"
    proc = subprocess.run([str(trtrl), "experiment", "paper", "--quick", "-o", "rep/q",
                           "-j", "1", "--no-progress"], cwd=cwd, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = cwd / "rep" / "q"
    data = json.loads((out / "report.json").read_text())
    return {"cwd": cwd, "out": out, "stdout": proc.stdout, "data": data,
            "cmp": data["results"]["comparison"]}


def test_quick_cli_writes_the_report_with_the_tuned_table(quick: dict) -> None:
    out, data = quick["out"], quick["data"]
    assert sorted(p.name for p in quick["cwd"].iterdir()) == ["rep"]
    assert sorted(p.name for p in (quick["cwd"] / "rep").iterdir()) == ["q"]  # no temp left
    assert data["settings"]["quick"] is True
    md = (out / "report.md").read_text()
    verdict = data["results"]["verdict"]
    assert verdict in quick["stdout"] and f"**{verdict}**" in md
    assert ("| task | algorithm | lr | median final MSE | quartiles | min - max | diverged | "
            "learned | paired ratio to RTRL (median) | within 2x of RTRL |") in md
    assert "![final MSE spread](final_mse_spread.png)" in md
    for task, s in quick["cmp"].items():
        for alg, label in (("rtrl", "RTRL"), ("trtrl", "TRTRL"), ("snap1", "SnAp-1")):
            a = s["algorithms"][alg]
            assert f"| {task} | {label} | {a['lr']:g} |" in md
        sim = s["similar_performance"]
        assert f"**{task}: similar performance {'holds' if sim['holds'] else 'does NOT'}" in md


def test_quick_tuning_and_evaluation_seeds_are_disjoint(quick: dict) -> None:
    data = quick["data"]
    tune, ev = data["tuning_seeds"], data["evaluation_seeds"]
    assert tune and ev and not set(tune) & set(ev)
    for s in quick["cmp"].values():
        for alg in paper.ALGORITHMS:
            assert s["algorithms"][alg]["seeds"] == ev
            assert [r["seeds"] for r in s["tuning"][alg]] == [tune] * len(s["lrs"])


def test_quick_chosen_rate_minimises_the_recorded_criterion(quick: dict) -> None:
    for s in quick["cmp"].values():
        for alg in paper.ALGORITHMS:
            rows = s["tuning"][alg]
            assert [r["lr"] for r in rows] == s["lrs"]
            crit = []
            for r in rows:
                vals = [float("inf") if d else float(v)
                        for v, d in zip(r["final_mse"], r["diverged"], strict=True)]
                c = float(np.median(vals))
                assert float(r["criterion"]) == c
                crit.append(c)
            best = min(range(len(rows)), key=lambda i: (crit[i], rows[i]["lr"]))
            assert s["algorithms"][alg]["lr"] == rows[best]["lr"]


def test_quick_statistics_equal_numpy_on_the_per_seed_values(quick: dict) -> None:
    for s in quick["cmp"].values():
        rtrl = np.array(s["algorithms"]["rtrl"]["final_mse"], dtype=float)
        for alg in paper.ALGORITHMS:
            a = s["algorithms"][alg]
            v = np.array(a["final_mse"], dtype=float)
            assert a["median"] == np.median(v)
            assert a["q25"] == np.percentile(v, 25) and a["q75"] == np.percentile(v, 75)
            assert a["min"] == v.min() and a["max"] == v.max()
            if alg == "rtrl":
                continue
            np.testing.assert_array_equal(a["ratio_to_rtrl"], v / rtrl)
            assert a["ratio_to_rtrl_median"] == np.median(v / rtrl)
            assert a["within_parity_of_rtrl"] == int(np.sum(v <= paper.PARITY_FACTOR * rtrl))


def test_quick_divergence_counts_and_verdict(quick: dict) -> None:
    from trtrl.experiments import comparison as cmp

    holds = {}
    for task, s in quick["cmp"].items():
        var = s["baselines"]["variance"]
        for alg in paper.ALGORITHMS:
            a = s["algorithms"][alg]
            v = np.array(a["final_mse"], dtype=float)
            div = ~(np.isfinite(v) & (v <= cmp.DIVERGED_FACTOR * var))
            assert a["diverged"] == div.tolist() and a["diverged_count"] == int(div.sum())
            assert a["learned"] == (v < paper.LEARNED_FRACTION * var).tolist()
            for r in s["tuning"][alg]:
                t = np.array(r["final_mse"], dtype=float)
                assert r["diverged"] == (~(t <= cmp.DIVERGED_FACTOR * var)).tolist()
        for sh, rt, tr in zip(s["shared_lr"], s["tuning"]["rtrl"], s["tuning"]["trtrl"],
                              strict=True):
            assert sh["lr"] == rt["lr"] == tr["lr"]
            assert sh["both_diverged"] == (float(rt["criterion"]) == float(tr["criterion"])
                                           == float("inf"))
        t, r = s["algorithms"]["trtrl"], s["algorithms"]["rtrl"]
        holds[task] = bool(t["median"] <= paper.PARITY_FACTOR * r["median"]
                           and t["diverged_count"] <= r["diverged_count"])
        assert s["similar_performance"]["holds"] == holds[task]
    assert quick["data"]["results"]["similar_performance"] == holds
    assert quick["data"]["results"]["similar_performance_all_tasks"] == all(holds.values())


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


def test_window_mse_and_quarters() -> None:
    from trtrl.experiments import comparison as cmp

    sq = np.concatenate([np.full(500, 0.01), np.full(500, 1.0)])  # saturated second half
    assert cmp.window_mse(sq, 500) == pytest.approx(0.01)
    assert cmp.window_mse(sq, 1000) == pytest.approx(1.0)
    assert cmp.quarter_ends(1000) == [250, 500, 750, 1000]
    assert cmp.tail_slice(1000) == slice(900, 1000)
