"""The hardware stage of ``trtrl demo``: generate, co-simulate, compare, report.

:func:`run_hardware` generates the Verilog of the default configuration in its AXI shell
(``trtrl_axi``: N = 15, M = 1, K = 1, default formats; cached per generator version by
:func:`testbenches.dut.cached_rtl`), co-simulates it learning the frequency doubler
online through its streams in the HDL batch harness (:func:`testbenches.runner.run_case`
with ``batched=True``: the simulator runs the cycles, the scoreboard checks every output
of every batch bit for bit against :class:`FixedTRTRL` and the state at checkpoints), and
in parallel runs a short second simulation with waveforms on Icarus (no C++ build, so it
overlaps the Verilator build; the long learning run keeps waves off because a full VCD
of thousands of N = 15 steps would be hundreds of megabytes). The fixed-point and the
float64 TRTRL models then run the same case, and the report (Verilog, manifest, C
header, learning curves, waveform dump + ``.gtkw`` + picture,
``summary.json``/``summary.md``) is written into the folder given.
"""

from __future__ import annotations

import concurrent.futures
import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from trtrl.pymodel.errors import TrtrlError
from trtrl.rtl.config import AXI_TOP, REGS_HEADER
from trtrl.rtl.manifest import Manifest
from trtrl.testbenches.configs import CONFIGS, TbConfig
from trtrl.testbenches.dut import BUILD_ROOT, cached_rtl
from trtrl.testbenches.learning import CURVE_WINDOW, MSE_MARGIN_ABS, MSE_MARGIN_REL, curve
from trtrl.testbenches.runner import run_case

WAVE_STEPS = 10  # length of the waveform run (Icarus VCD of N = 15: ~1.4 MB/step)
WAVE_WINDOW = (5, 9)  # steps drawn in waves.png
# The waveform run uses the per-cycle cocotbext-axi testbench, not the batch harness:
# its dump's top is the AXI top itself, so every signal a user connects sits at the top
# under its own name, with the AXI4-Lite weight load and read-back as real transactions;
# the harness would add its own top, batch memories and LFSRs around it. Ten steps take
# seconds either way.
WAVE_TESTS = ("learn_through_axi",)
WINDOW = CURVE_WINDOW  # learning-curve window: the testbench's curve_hw
MIN_STEPS_FOR_MARGIN = 1000


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Timer:
    """Stage lines with wall times on stderr; the times also go to the summary."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    def run(self, name: str, what: str, fn: Any, *a: Any, **kw: Any) -> Any:
        log(f"[demo] {what} ...")
        t0 = time.perf_counter()
        out = fn(*a, **kw)
        dt = time.perf_counter() - t0
        self.times[name] = round(dt, 1)
        log(f"[demo] {what}: done in {dt:.1f} s")
        return out


def config(steps: int, seed: int) -> TbConfig:
    """The default configuration in its AXI shell, learning the frequency doubler for
    ``steps`` samples."""
    base = CONFIGS["freq15_learn"]
    # the demo keeps the case's own rate (2**-4): its 4000 samples end before the seed-1
    # burst that made freq15_learn move to 2**-5 (testbenches/README.md)
    return replace(base, name="demo", steps=steps, seed=seed, lr_shift=None, top=AXI_TOP,
                   checkpoint_every=max(1, min(1000, steps)), compare_float=True)


def core_step_cycles(dump: Path) -> list[int]:
    """Clock cycles of each step of the core below the AXI shell, from a dump.

    From the rising ``aclk`` that takes the core's handshake (``core_s_valid &
    core_s_ready`` before the edge) to the one that raises ``core_r_valid``: what the
    array's own testbench measures as cycles per step.
    """
    from trtrl.testbenches.waves import read_vcd, read_vcd_names, rising_edges, top_scope

    top = top_scope(dict.fromkeys(read_vcd_names(dump), 0))
    names = [top + n for n in ("aclk", "core_s_valid", "core_s_ready", "core_r_valid")]
    vcd = read_vcd(dump, names)
    clk, valid, ready, done = (vcd.vars[n] for n in names)
    edges = rising_edges(clk)
    period = min((b - a for a, b in zip(edges, edges[1:], strict=False)), default=0)
    starts = [t for t in edges if valid.value_at(t - 1) == 1 and ready.value_at(t - 1) == 1]
    out = []
    for t in rising_edges(done):
        before = [s for s in starts if s < t]
        if before and period:
            out.append(round((t - before[-1]) / period))
    return out


def _models(cfg: TbConfig, man: Any, lr_shift: int) -> dict[str, np.ndarray]:
    """Per-step errors (as reals) of the fixed-point and the float64 TRTRL model, and the
    fixed-point model's."""
    from trtrl.pymodel.fixed.model import fixed_trace
    from trtrl.pymodel.models import make_model
    from trtrl.testbenches.stimulus import make_case

    case = make_case(replace(cfg, n=man.n, m=man.m, k=man.k, activation=man.fixed.activation))
    tr = fixed_trace(case, man.fixed, lr_shift=lr_shift, weights_every=0)
    e_fixed = np.asarray(tr["e"], dtype=np.float64) / (1 << man.fixed.act.frac)
    model = make_model("trtrl", np.asarray(case.w0), man.m, man.k, 2.0 ** -lr_shift,
                       man.fixed.activation)
    e_float = np.asarray(model.run(np.asarray(case.x), np.asarray(case.d), weights_every=0)["e"])
    return {"fixed": e_fixed, "float": e_float}


def _plot_curves(path: Path, hw_curve: list[float], e: dict[str, np.ndarray], steps: int) -> None:
    """Mean squared error per block of 100 steps (the testbench's ``curve_hw``) of all three."""
    from trtrl.pymodel.report import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.8))
    w = WINDOW if steps >= 2 * WINDOW else max(1, steps // 5)
    for key, style, label in (("float", dict(color="tab:blue", lw=1.2), "float64 TRTRL model"),
                              ("fixed", dict(color="tab:orange", lw=2.4),
                               "fixed-point model (FixedTRTRL)")):
        sq = (e[key] ** 2).mean(axis=1)
        n = len(sq) // w
        curve = sq[: n * w].reshape(n, w).mean(axis=1)
        ax.plot(np.arange(n) * w + (w - 1) / 2, curve, label=f"{label}, mean of each {w} steps",
                **style)
    if hw_curve:
        centres = np.arange(len(hw_curve)) * WINDOW + (WINDOW - 1) / 2
        ax.plot(centres, hw_curve, "k.", ms=7,
                label=f"hardware (Verilog, co-simulated), mean of each {WINDOW} steps")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("squared error")
    ax.set_title("Frequency doubler, N = 15: hardware vs fixed-point vs float TRTRL")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def _waves_png(dump: Path, manifest: Path, out: Path) -> dict[str, Any]:
    """``waves.png`` (``trtrl waves``); returns its steps and time span (ns)."""
    from trtrl.cmd_waves import plot_window

    # no signal list: `trtrl waves`'s own choice for an AXI dump (AXI_DEFAULT_SIGNALS)
    facts = plot_window(dump, None, WAVE_WINDOW[0], WAVE_WINDOW[1], str(manifest), out)
    return {k: facts[k] for k in ("first", "last", "t0_ns", "t1_ns", "marked_steps")}


def _copy_rtl(verilog: Path, manifest: Path, man: Manifest, out: Path) -> None:
    """``trtrl_axi.v``, ``trtrl_axi.json`` and ``trtrl_regs.h`` into ``out``; the header is
    the generator's, or made from the manifest's register map when the cache lacks it."""
    from trtrl.rtl.regmap import RegisterMap

    shutil.copy2(verilog, out / f"{AXI_TOP}.v")
    shutil.copy2(manifest, out / f"{AXI_TOP}.json")
    header = verilog.parent / REGS_HEADER
    if header.is_file():
        shutil.copy2(header, out / REGS_HEADER)
    else:
        (out / REGS_HEADER).write_text(
            RegisterMap.from_json(man.details["registers"]).c_header())


def _burst(curve: list[float]) -> dict[str, Any]:
    """The largest block of a learning curve once it has fallen below a tenth of its start.

    That is the burst of error after the initial descent (the demo's curves have one);
    ``block`` is the index of a block of :data:`WINDOW` steps.
    """
    start = next((i for i, v in enumerate(curve) if v < curve[0] / 10), len(curve))
    if start >= len(curve):
        return {"block": None, "first_step": None, "last_step": None, "mse": None}
    b = max(range(start, len(curve)), key=lambda i: curve[i])
    return {"block": b, "first_step": b * WINDOW, "last_step": (b + 1) * WINDOW - 1,
            "mse": curve[b]}


def figure_facts(hw_curve: list[float], float_curve: list[float]) -> dict[str, Any]:
    """What ``learning_curves.png`` shows, in numbers the README quotes."""
    return {"block_steps": WINDOW, "blocks": len(hw_curve),
            "first_block_mse_hw": hw_curve[0] if hw_curve else None,
            "last_block_mse_hw": hw_curve[-1] if hw_curve else None,
            "last_block_mse_float": float_curve[-1] if float_curve else None,
            "burst_hw": _burst(hw_curve), "burst_float": _burst(float_curve)}


def run_hardware(out: Path, steps: int = 4000, sim: str = "verilator", seed: int = 1,
                 waves_sim: str = "icarus") -> dict[str, Any]:
    """Run the hardware stage into the (existing, empty-ish) folder ``out``; return the summary."""
    timer = Timer()
    cfg = config(steps, seed)
    root = BUILD_ROOT / "demo"
    verilog, manifest = timer.run("generate", "generating the Verilog of the AXI top (N=15 "
                                  "M=1 K=1; cached per generator version)", cached_rtl, cfg)
    man = Manifest.read(manifest)
    if man.interface != AXI_TOP:
        raise TrtrlError(f"{manifest}: the demo needs the AXI top ({AXI_TOP}), got {man.top}")
    _copy_rtl(Path(verilog), Path(manifest), man, out)
    man_out = out / f"{AXI_TOP}.json"

    wave_cfg = replace(cfg, name="demo_waves", steps=WAVE_STEPS, checkpoint_every=WAVE_STEPS,
                       compare_float=False)
    log(f"[demo] co-simulating {steps} learning steps on {sim} (AXI top in the batch "
        f"harness; build + run) and, alongside, {WAVE_STEPS} steps with waves on {waves_sim} "
        f"(per-cycle AXI testbench) ...")
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        f_wave = pool.submit(run_case, wave_cfg, waves_sim, waves=True, wave_format="vcd",
                             build_root=root, rerun_with_waves=False, testcase=WAVE_TESTS)
        res = run_case(cfg, sim, waves=False, build_root=root, rerun_with_waves=True,
                       batched=True)
        learn_done = time.perf_counter() - t0
        wres = f_wave.result()
    timer.times["cosim"] = round(time.perf_counter() - t0, 1)
    timer.times["cosim_learning_run"] = round(learn_done, 1)
    log(f"[demo] co-simulation: done in {timer.times['cosim']:.1f} s (learning run "
        f"{learn_done:.1f} s: build {res.build_s:.1f} s, run {res.wall_s:.1f} s, "
        f"{res.steps_per_s or 0:.0f} steps/s; waves run {wres.build_s + wres.wall_s:.1f} s)")

    lr_shift = int(res.extra.get("lr_shift", 4))
    e = timer.run("models", f"running the fixed-point and float models ({steps} steps)",
                  _models, cfg, man, lr_shift)
    mse_fixed = float(np.mean(e["fixed"] ** 2))
    mse_float = float(np.mean(e["float"] ** 2))
    curve_fixed = curve(e["fixed"])
    tail = max(1, steps // 5)
    scored = bool(res.passed and res.steps == steps)
    # the hardware's own errors, as the batched testbench recorded them from the result
    # stream (its scoreboard compared them with the model's every step)
    hw_curve = list(res.extra.get("curve_hw") or [])
    mse_hw = res.extra.get("mse_hw")
    mse_hw_tail = res.extra.get("mse_hw_tail")
    # bit-exact: the scoreboard compared every result word every step (and all state at
    # checkpoints); the hardware's MSE and curve must equal the model's to the last bit
    # of the float (same integers, same arithmetic)
    bit_exact = bool(scored and mse_hw == mse_fixed and hw_curve == curve_fixed)
    mse_float_tail = float(np.mean(e["float"][-tail:] ** 2))
    learned: bool | None = None
    if steps >= MIN_STEPS_FOR_MARGIN and mse_hw_tail is not None:
        learned = bool(mse_hw_tail <= MSE_MARGIN_REL * mse_float_tail + MSE_MARGIN_ABS
                       and len(hw_curve) >= 2 and hw_curve[-1] < hw_curve[0])

    figures: dict[str, Any] = {"learning_curves": figure_facts(hw_curve, curve(e["float"]))}
    cycles: list[int] = []

    def plots() -> None:
        _plot_curves(out / "learning_curves.png", hw_curve, e, steps)
        if wres.waves and Path(wres.waves).is_file():
            shutil.copy2(wres.waves, out / "waves.vcd")
            from trtrl.testbenches.waves import NAMED_MARKERS, gtkw_view, write_gtkw

            cycles.extend(core_step_cycles(out / "waves.vcd"))
            # paths in the save file are relative, so the folder can be renamed into place
            view = gtkw_view(out / "waves.vcd")
            write_gtkw(out / "waves.vcd", man_out)
            figures["gtkwave"] = {"first": view.first, "last": view.last,
                                  "t0_ns": view.ns(view.t0), "t1_ns": view.ns(view.t1),
                                  "named_markers": min(len(view.markers), NAMED_MARKERS)}
            figures["waves_png"] = _waves_png(out / "waves.vcd", man_out, out / "waves.png")

    timer.run("report", "plotting learning curves and waveforms", plots)
    # measured in the waveform run (the batch harness does not time single steps)
    cycles_per_step = cycles[0] if cycles and len(set(cycles)) == 1 else (
        float(np.mean(cycles)) if cycles else None)

    ok = bit_exact and learned is not False and wres.passed
    if not res.passed:
        verdict = (f"FAIL: hardware differs from the fixed-point model "
                   f"(after {res.steps} of {steps} steps): {res.message.splitlines()[0]}")
    elif not bit_exact:
        verdict = (f"FAIL: the hardware's learning curve differs from the fixed-point "
                   f"model's (MSE {mse_hw} vs {mse_fixed})")
    else:
        verdict = (f"PASS: hardware matched the fixed-point model bit for bit over {steps} "
                   f"steps; MSE {mse_hw:.2g} (fixed {mse_fixed:.2g}, float {mse_float:.2g}), "
                   f"last {tail} steps {mse_hw_tail:.2g} (float {mse_float_tail:.2g})")
        if learned is False:
            verdict = "FAIL" + verdict[4:] + (
                f", but the last-{tail}-step MSE {mse_hw_tail:.2g} exceeds the margin "
                f"{MSE_MARGIN_REL} x float {mse_float_tail:.2g} + {MSE_MARGIN_ABS:g}")
        elif learned is None:
            verdict += f" (run too short to judge learning: < {MIN_STEPS_FOR_MARGIN} steps)"
        if not wres.passed:
            verdict = "FAIL" + verdict[4:] + f"; the {waves_sim} waveform run failed"
    summary = {
        "verdict": verdict, "passed": ok, "steps": steps, "seed": seed, "sim": sim,
        "top": man.top, "harness": "batched",
        "task": "freq_doubler", "config": {"n": man.n, "m": man.m, "k": man.k,
                                           "fixed": man.fixed.to_dict(), "lr_shift": lr_shift},
        "cycles_per_step": cycles_per_step, "cycles_per_step_each": cycles,
        "manifest_cycles_per_step": man.cycles_per_step,
        "sim_steps_per_s": res.steps_per_s, "sim_cycles_per_s": res.sim_cycles_per_s,
        "stream_steps_per_s": res.extra.get("stream_steps_per_s"),
        "build_s": res.build_s, "sim_wall_s": res.wall_s,
        "mse_hw": mse_hw, "mse_fixed": mse_fixed, "mse_float": mse_float,
        "tail_steps": tail, "mse_hw_tail": mse_hw_tail, "mse_float_tail": mse_float_tail,
        "bit_exact": bit_exact, "learned_within_margin": learned,
        "scoreboard": {"passed": res.passed, "message": res.message,
                       "checked_values": res.extra.get("checked_values"),
                       "checkpoints": res.extra.get("checkpoints"),
                       "batch": res.extra.get("batch")},
        "waves": {"sim": waves_sim, "steps": WAVE_STEPS, "passed": wres.passed,
                  "testbench": "per-cycle (cocotbext-axi)",
                  "file": "waves.vcd" if (out / "waves.vcd").exists() else None,
                  "window_steps": list(WAVE_WINDOW), "build_s": wres.build_s,
                  "wall_s": wres.wall_s},
        "figures": figures,
        "stage_wall_s": timer.times,
        "build_dirs": {"learning": res.build_dir, "waves": wres.build_dir,
                       "failing_waves": res.waves},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "figures.json").write_text(json.dumps(figures_file(summary), indent=1) + "\n")
    (out / "summary.md").write_text(_markdown(summary))
    return summary


# Keys of the summary that the pictures show; no times or paths, so the file is the same
# on every run of the same code (``make images`` keeps it as docs/img/demo_facts.json).
FIGURE_KEYS = ("steps", "seed", "sim", "cycles_per_step", "mse_hw", "mse_fixed", "mse_float",
               "tail_steps", "mse_hw_tail", "mse_float_tail", "bit_exact")


def figures_file(summary: dict[str, Any]) -> dict[str, Any]:
    """``figures.json``: the numbers behind the demo's pictures (what the README quotes)."""
    out = {k: summary[k] for k in FIGURE_KEYS}
    out["lr_shift"] = summary["config"]["lr_shift"]
    out["waves_steps"] = summary["waves"]["steps"]
    out["waves_sim"] = summary["waves"]["sim"]
    out.update(summary["figures"])
    return out


def write_image_facts(figures: Path, img_dir: Path) -> Path:
    """``img_dir/demo_facts.json``: ``figures.json`` plus the SHA-256 of the demo's images.

    The hashes tie the facts to the pictures beside them, so a picture replaced without
    its facts (and so without the README's numbers being checked again) fails the tests.
    """
    import hashlib

    facts = json.loads(Path(figures).read_text())
    facts["images"] = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                       for p in sorted(Path(img_dir).glob("demo_*.png"))}
    out = Path(img_dir) / "demo_facts.json"
    out.write_text(json.dumps(facts, indent=1) + "\n")
    return out


def _fmt(v: Any) -> str:
    from trtrl.pymodel.report import fmt_num

    return fmt_num(v)


def _gtkw_note(s: dict[str, Any]) -> str:
    g = s.get("figures", {}).get("gtkwave")
    if not g or g["first"] is None:
        return "`gtkwave waves.gtkw`"
    return (f"`gtkwave waves.gtkw` opens on steps {g['first']}..{g['last']}, "
            f"{g['t0_ns'] / 1000:.1f} to {g['t1_ns'] / 1000:.1f} us, markers at step ends")


def _markdown(s: dict[str, Any]) -> str:
    from trtrl.pymodel.report import markdown_table

    rows = [
        ("steps", s["steps"]), ("simulator", s["sim"]), ("seed", s["seed"]),
        ("cycles per step (measured)", s["cycles_per_step"]),
        ("cycles per step (manifest)", s["manifest_cycles_per_step"]),
        ("simulation speed (steps/s, incl. model + read-back)", s["sim_steps_per_s"]),
        ("simulated cycles/s", s["sim_cycles_per_s"]),
        ("build time (s)", s["build_s"]), ("simulation wall time (s)", s["sim_wall_s"]),
        ("MSE hardware", s["mse_hw"]), ("MSE fixed-point model", s["mse_fixed"]),
        ("MSE float64 model", s["mse_float"]),
        (f"MSE hardware, last {s['tail_steps']} steps", s["mse_hw_tail"]),
        (f"MSE float64, last {s['tail_steps']} steps", s["mse_float_tail"]),
        ("bit-exact with the fixed-point model", s["bit_exact"]),
        ("learned within the margin", s["learned_within_margin"]),
    ]
    times = ", ".join(f"{k} {v} s" for k, v in s["stage_wall_s"].items())
    w = s["waves"]
    return (
        "# trtrl demo: the default array in its AXI shell learning the frequency doubler\n\n"
        f"**{s['verdict']}**\n\n"
        + markdown_table(["quantity", "value"], [(k, _fmt(v)) for k, v in rows])
        + "\n\nThe samples went in on the AXI4-Stream slave and the results came out on the "
        "master (the HDL batch harness: idle cycles and backpressure from LFSRs); the "
        "scoreboard compared every result word (`y`, `e`) with the fixed-point model every "
        "step, and every weight and sensitivity, read over AXI4-Lite, at checkpoints. "
        "`learning_curves.png` shows the hardware's mean squared error per 100 steps on top "
        "of the fixed-point model's (they coincide exactly: same integers, same arithmetic; "
        "the hardware's errors as the testbench took them from the result stream) and the "
        "float64 model's.\n\n"
        f"Waveforms: `waves.vcd` ({w['steps']} steps on {w['sim']}, a separate short run of "
        f"the {w['testbench']} testbench: a dump of the whole learning run would be far too "
        f"large), `waves.gtkw` for GTKWave ({_gtkw_note(s)}), `waves.png` steps "
        f"{w['window_steps'][0]}..{w['window_steps'][1]}.\n\n"
        f"Stage wall times: {times}.\n"
    )


if __name__ == "__main__":  # python -m trtrl.testbenches.demo OUT/figures.json docs/img
    print(f"wrote {write_image_facts(Path(sys.argv[1]), Path(sys.argv[2]))}")
