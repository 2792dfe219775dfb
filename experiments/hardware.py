"""Hardware figures: cycles, storage, multipliers and cells of the neuron array vs N (Yosys).

For every size ``N`` and output count ``K <= N`` (``M`` inputs, the formats of the
``--act-format`` ... options, default A 16.14, W/P 18.14) the
array is generated once (cached for the run) and synthesized by Yosys at word level
(``rtl/synth.py``: ``$mul`` cells, memory bits, register bits, word-level cells); the
smallest configurations are also synthesized to generic gates (gate cells, flip-flops)
and one configuration is placed and routed for a clock. At K = 1 and sizes up to
``--noabc-max-n`` a bit-level count without ABC is taken too (``gate_cells_noabc``:
memories mapped to flip-flops and multiplexers by ``memory_map``, every operator to
generic gates by ``techmap``, ``opt -fast``, no ABC): unlike the word-level count it
counts every stored bit, and unlike full gate-level synthesis it runs in minutes up to
N = 32; its fit ``a + b N + c N^2`` separates the datapath from the storage. Beside each
measured curve
stands the paper's claim (Budik & Elhanany, 2006): per-neuron work ``O(2 K N)``, total
``O(2 K N^2)`` multiplies per step (so ``O(K N)`` cycles on N processing elements) and
storage ``O(N^2)``; and the design's own formulas (``rtl/README.md``; the folded core,
``P = min(N, 20)`` lanes, ``R = ceil(N / P)``): cycles per step
``R L (K+3) + max(K, P) + 27``, multipliers ``4 P + 1`` and a learning state of
``N L (K+3)`` words.
Growth exponents are least-squares slopes of log(quantity) on log(N) at fixed ``K``.

Learning steps per second of the hardware are ``clock / cycles_per_step``. The clock is
nextpnr's post-route estimate of one probe configuration (``--clock-target``): by default
``N = --clock-n`` at the sweep's formats on an ECP5 LFE5U-85F (``synth_ecp5``, hard
multipliers, nextpnr-ecp5); with ``ice40`` a cut-down probe on an iCE40HX8K (narrow formats
A 8.6, W/P 10.6, a 64-entry table: the default formats do not fit any iCE40 even at
``N = 2``). The probe's clock is used for every N (larger arrays have longer routes, so
it is an upper bound for them); beside it stands the stated ``--clock-mhz`` assumption.
They are set against the float64 TRTRL and RTRL models timed on this CPU
(``pymodel.bench.time_model_step``, best of repeats): the ratio is the hardware speedup.
The fixed-point word length each task needs is read from the precision sweep
(``trtrl experiment precision``; ``--precision-csv`` or a run made here).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trtrl.pymodel.bench import fit_exponent, parse_sizes
from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.fixed.formats import FixedConfig, FixedFormat
from trtrl.pymodel.fixed.options import add_format_arguments, config_from_args
from trtrl.pymodel.paths import user_path
from trtrl.pymodel.report import (
    atomic_folder,
    environment_info,
    markdown_table,
    progress,
    pyplot,
    save_figure,
    write_csv,
    write_json,
)
from trtrl.rtl.config import CYCLES_FORMULA, DEFAULT_LANES, ArrayConfig

NS_FULL = [2, 4, 8, 16, 32]
NS_QUICK = [2, 4, 8]
KS = [1, 2, 4]
DEFAULT_CLOCK_MHZ = 100.0
# The iCE40 clock probe: narrow formats and a small table so one PE fits an HX8K.
PROBE_FIXED = FixedConfig(act=FixedFormat(8, 6), weight=FixedFormat(10, 6),
                          sens=FixedFormat(10, 6), acc_bits=20, lut_bits=6, activation="tanh")
CLOCK_N = {"ecp5": 4, "ice40": 1}  # probe sizes that place and route on the default parts
CLOCK_DEVICE = {"ecp5": "85k", "ice40": "hx8k"}
MSE_RATIO_LIMIT = 2.0  # a word length "suffices" when its MSE is within 2x of float64


@dataclass
class Point:
    """Measured and predicted figures of one configuration."""

    n: int
    k: int
    m: int
    cycles: int
    storage_words: int
    lanes: int
    multipliers: int
    memory_bits: int
    rom_bits: int
    register_bits: int
    word_cells: int
    gate_cells: int | None = None
    gate_flip_flops: int | None = None
    gate_cells_noabc: int | None = None
    gate_flip_flops_noabc: int | None = None
    noabc_s: float | None = None
    yosys_s: float = 0.0
    cpu_s: dict[str, float | None] = field(default_factory=dict)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The experiment's options."""
    parser.add_argument("-o", "--out", required=True, type=user_path, metavar="DIR",
                        help="report folder (written atomically; replaced if it exists)")
    parser.add_argument("--quick", action="store_true",
                        help=f"N in {NS_QUICK}, gate-level synthesis of N=2 only")
    parser.add_argument("--ns", default=None, metavar="LIST",
                        help=f"comma-separated sizes N (default {NS_FULL}; --quick {NS_QUICK})")
    parser.add_argument("--ks", default=",".join(map(str, KS)), metavar="LIST",
                        help="comma-separated output counts K (each used where K <= N)")
    parser.add_argument("--inputs", "-m", type=int, default=1, help="M, external inputs")
    parser.add_argument("--gate-max-n", type=int, default=None, metavar="N",
                        help="generic gate-level synthesis for N <= this, K = 1 "
                             "(default 4; --quick 2; 0 = none)")
    parser.add_argument("--noabc-max-n", type=int, default=None, metavar="N",
                        help="bit-level cells without ABC (memory_map + techmap) for "
                             "N <= this, K = 1 (default 16; --quick 4; 0 = none)")
    parser.add_argument("--clock-target", choices=["ecp5", "ice40", "none"], default="ecp5",
                        help="FPGA of the clock probe: ecp5 (sweep formats, default), ice40 "
                             "(narrow probe formats), none (assumed clock only)")
    parser.add_argument("--clock-device", default=None, metavar="DEV",
                        help="part of the clock probe (default ecp5 85k, ice40 hx8k)")
    parser.add_argument("--clock-n", type=int, default=None, metavar="N",
                        help=f"neurons of the clock probe (default ecp5 {CLOCK_N['ecp5']}, "
                             f"ice40 {CLOCK_N['ice40']})")
    parser.add_argument("--clock-mhz", type=float, default=DEFAULT_CLOCK_MHZ,
                        help="assumed clock of a mid-range FPGA, shown beside the iCE40 "
                             f"estimate (default {DEFAULT_CLOCK_MHZ:g} MHz)")
    parser.add_argument("--precision-csv", default=None, type=user_path, metavar="FILE",
                        help="precision.csv of `trtrl experiment precision` (default: run "
                             "its quick sweep here)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the CPU timing problems and the precision sweep")
    parser.add_argument("--bench-seconds", type=float, default=3.0,
                        help="time budget per CPU model timing (default 3 s)")
    parser.add_argument("--timeout", type=float, default=3600.0, metavar="S",
                        help="limit per Yosys/nextpnr run in seconds (default 3600)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_format_arguments(parser)


def _format_args(args: argparse.Namespace) -> str:
    """The format options as given (empty at the defaults), for the report's command."""
    dflt = FixedConfig()
    given = [("--act-format", args.act_format, str(dflt.act)),
             ("--weight-format", args.weight_format, str(dflt.weight)),
             ("--sens-format", args.sens_format, str(dflt.sens)),
             ("--acc-bits", args.acc_bits, dflt.acc_bits),
             ("--lut-bits", args.lut_bits, dflt.lut_bits),
             ("--lut-range", args.lut_range, None)]
    return "".join(f" {opt} {val}" for opt, val, d in given if val != d)


def fit(ns: list[int], values: list[float | None]) -> float | None:
    """Growth exponent over the sizes with a positive value (None if fewer than 2)."""
    pts = [(n, v) for n, v in zip(ns, values, strict=True) if v is not None and v > 0]
    if len(pts) < 2:
        return None
    return fit_exponent([n for n, _ in pts], [v for _, v in pts])


def fit_quadratic(ns: list[int], values: list[float | None]) -> dict[str, Any] | None:
    """``a + b N + c N^2`` fitted to the positive values (relative least squares).

    The array's cells are N copies of a fixed datapath (the ``b N`` term) plus O(N)
    storage in each of them (the ``c N^2`` term), so one exponent hides the cross-over:
    ``n_cross = b / c`` is where the storage term equals the datapath term, and the
    local exponent ``(b N + 2 c N^2) / (a + b N + c N^2)`` tends to 2 only beyond it.
    With five or more sizes the largest is held out and predicted from the others, so
    the model is checked on a size it was not fitted to. None with fewer than 3 sizes.
    """
    pts = sorted((n, float(v)) for n, v in zip(ns, values, strict=True)
                 if v is not None and v > 0)
    if len(pts) < 3:
        return None

    def solve(sel: list[tuple[int, float]]) -> np.ndarray:
        n = np.array([p[0] for p in sel], float)
        y = np.array([p[1] for p in sel])
        basis = np.vstack([np.ones_like(n), n, n * n]).T / y[:, None]  # relative residuals
        coef, *_ = np.linalg.lstsq(basis, np.ones_like(y), rcond=None)
        return coef

    a, b, c = solve(pts)
    model = [a + b * n + c * n * n for n, _ in pts]
    out: dict[str, Any] = {
        "a": float(a), "b": float(b), "c": float(c), "sizes": [n for n, _ in pts],
        "worst_residual": float(max(abs(m / v - 1) for m, (_, v) in zip(model, pts, strict=True))),
        "n_cross": float(b / c) if c > 0 and b > 0 else None,
        "local_exponent": {str(n): float((b * n + 2 * c * n * n) / (a + b * n + c * n * n))
                           for n in (pts[-1][0], 64, 128, 256, 1024)},
    }
    if len(pts) >= 5:
        a2, b2, c2 = solve(pts[:-1])
        n_out, v_out = pts[-1]
        pred = a2 + b2 * n_out + c2 * n_out * n_out
        out["holdout"] = {"n": n_out, "predicted": float(pred), "measured": v_out,
                          "error": float(pred / v_out - 1)}
    return out


# -- precision ------------------------------------------------------------------------------
def word_lengths(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per task: the smallest word length from which every longer one is within the limit."""
    out: dict[str, dict[str, Any]] = {}
    for task in sorted({r["task"] for r in rows}):
        pts = sorted((int(r["bits"]), float(r["ratio"]), r["fmt_A"], r["fmt_W"], r["fmt_P"])
                     for r in rows if r["task"] == task)
        need = None
        for i, p in enumerate(pts):
            if all(q[1] <= MSE_RATIO_LIMIT for q in pts[i:]):
                need = p
                break
        out[task] = ({"bits": need[0], "mse_ratio": need[1], "A": need[2], "W": need[3],
                      "P": need[4]} if need else {"bits": None})
        out[task]["bits_tested"] = [p[0] for p in pts]
    return out


def precision_rows(s: Settings) -> tuple[list[dict[str, Any]], str]:
    """Rows of a precision sweep: from ``--precision-csv`` or a quick sweep run now."""
    if s.precision_csv:
        path = Path(s.precision_csv)
        try:
            with path.open(newline="") as fh:
                rows = list(csv.DictReader(fh))
        except OSError as exc:
            raise TrtrlError(f"--precision-csv: cannot read {path}: {exc.strerror}") from exc
        need = {"task", "bits", "ratio", "fmt_A", "fmt_W", "fmt_P"}
        if not rows or not need <= set(rows[0]):
            raise TrtrlError(f"--precision-csv {path}: not a precision.csv (needs columns "
                             f"{', '.join(sorted(need))})")
        return rows, f"read from {path}"
    from trtrl.experiments import precision as prec

    results = prec.sweep(prec.QUICK_STEPS, s.seed, prec.BITS_QUICK, progress=s.progress)
    rows = [dict(zip(prec.HEADERS, r, strict=True)) for r in prec._rows(results)]
    return rows, (f"quick precision sweep run here ({prec.QUICK_STEPS} training steps, "
                  f"bits {prec.BITS_QUICK}, seed {s.seed})")


# -- measurements ---------------------------------------------------------------------------
def _rtl(cfg: ArrayConfig, cache: dict[tuple[Any, ...], Path], root: Path,
         prefix: str = "") -> Path:
    """Generated Verilog folder of ``cfg``, generated once per run."""
    from trtrl.rtl.generate import generate

    key = (prefix, cfg.n, cfg.m, cfg.k)
    if key not in cache:
        folder = root / f"{prefix}n{cfg.n}_m{cfg.m}_k{cfg.k}"
        generate(cfg, folder)
        cache[key] = folder
    return cache[key]


def _cpu_seconds(n: int, m: int, k: int, s: Settings) -> dict[str, float | None]:
    from trtrl.pymodel.bench import blas_threads, time_model_step

    out: dict[str, float | None] = {}
    with blas_threads(1):
        for alg in ("trtrl", "rtrl"):
            t = time_model_step(alg, n, m, k, repeats=5, max_seconds=s.bench_seconds,
                                seed=s.seed)
            out[alg] = t.seconds
    return out


@dataclass
class Settings:
    """Everything that determines a hardware run (recorded in report.json)."""

    ns: list[int] = field(default_factory=lambda: list(NS_FULL))
    ks: list[int] = field(default_factory=lambda: list(KS))
    inputs: int = 1
    fixed: FixedConfig = field(default_factory=FixedConfig)
    format_args: str = ""  # the format options as typed, for the report's command
    gate_max_n: int = 4
    noabc_max_n: int = 16
    clock_target: str = "ecp5"  # or "ice40", "none"
    clock_device: str | None = None  # resolved part of the probe
    clock_n: int | None = None
    clock_mhz_assumed: float = DEFAULT_CLOCK_MHZ
    precision_csv: Path | None = None
    seed: int = 0
    bench_seconds: float = 3.0
    timeout_s: float = 3600.0
    quick: bool = False
    progress: bool = True

    @property
    def configs(self) -> list[tuple[int, int]]:
        """The (N, K) pairs swept: every K with every N >= K."""
        return [(n, k) for k in self.ks for n in self.ns if k <= n]

    @property
    def probe_target(self) -> str | None:
        return None if self.clock_target == "none" else self.clock_target

    def record(self) -> dict[str, Any]:
        """The settings as report.json keeps them."""
        return {"ns": self.ns, "ks": self.ks, "inputs": self.inputs,
                "gate_max_n": self.gate_max_n, "noabc_max_n": self.noabc_max_n,
                "formats": self.fixed.describe(), "format_args": self.format_args,
                "clock_target": self.clock_target, "clock_device": self.clock_device,
                "clock_n": self.clock_n, "clock_mhz_assumed": self.clock_mhz_assumed,
                "seed": self.seed, "bench_seconds": self.bench_seconds,
                "timeout_s": self.timeout_s, "quick": self.quick,
                # as the user would type it here (the option holds it made absolute)
                "precision_csv": (os.path.relpath(self.precision_csv) if self.precision_csv
                                  else None),
                "mse_ratio_limit": MSE_RATIO_LIMIT}


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The run settings from the parsed options; a bad option is refused before any run."""
    ns = parse_sizes(args.ns, "--ns") if args.ns else (NS_QUICK if args.quick else NS_FULL)
    if args.inputs < 0:
        raise TrtrlError(f"--inputs: must be >= 0, got {args.inputs}")
    if args.clock_mhz <= 0:
        raise TrtrlError(f"--clock-mhz: must be > 0, got {args.clock_mhz}")
    s = Settings(
        ns=list(ns), ks=parse_sizes(args.ks, "--ks"), inputs=args.inputs,
        fixed=config_from_args(args, "tanh"), format_args=_format_args(args),
        gate_max_n=args.gate_max_n if args.gate_max_n is not None else (2 if args.quick else 4),
        noabc_max_n=(args.noabc_max_n if args.noabc_max_n is not None
                     else (4 if args.quick else 16)),
        clock_target=args.clock_target, clock_mhz_assumed=args.clock_mhz,
        precision_csv=args.precision_csv, seed=args.seed, bench_seconds=args.bench_seconds,
        timeout_s=args.timeout, quick=args.quick, progress=not args.no_progress)
    if not s.configs:
        raise TrtrlError("no configuration with K <= N: check --ns and --ks")
    if s.probe_target:
        from trtrl.rtl.synth import resolve_device

        s.clock_n = args.clock_n if args.clock_n is not None else CLOCK_N[s.probe_target]
        if s.clock_n < 1:
            raise TrtrlError(f"--clock-n: must be >= 1, got {s.clock_n}")
        s.clock_device = resolve_device(s.probe_target,
                                        args.clock_device or CLOCK_DEVICE[s.probe_target])
    for n, k in s.configs:  # refuse a bad format/size pair before anything runs
        ArrayConfig(n, s.inputs, k, s.fixed)
    return s


def measure(cfg: ArrayConfig, folder: Path, s: Settings, bar: Any) -> Point:
    """Word-level figures of one configuration, gate-level and bit-level ones at K = 1
    where the settings ask for them, and the CPU models' step time."""
    from trtrl.rtl.synth import synthesize

    n, k, verilog = cfg.n, cfg.k, folder / "trtrl_array.v"
    bar.set_postfix_str(f"N={n} K={k} word level")
    t0 = time.perf_counter()
    res = synthesize(verilog, folder / "word", full=False, timeout=s.timeout_s)
    st = cfg.storage_words()
    pt = Point(n=n, k=k, m=cfg.m, cycles=cfg.cycles_per_step(),
               storage_words=st["state"], lanes=cfg.lanes,
               multipliers=res.multipliers, memory_bits=res.memory_bits,
               rom_bits=res.rom_bits, register_bits=res.register_bits,
               word_cells=res.word_cells, yosys_s=time.perf_counter() - t0)
    bar.update()
    if n <= s.gate_max_n and k == 1:
        bar.set_postfix_str(f"N={n} K={k} generic gates")
        g = synthesize(verilog, folder / "generic", target="generic", full=True,
                       timeout=s.timeout_s)
        pt.gate_cells, pt.gate_flip_flops = g.cells, g.flip_flops
        (folder / "generic" / "synth.v").unlink(missing_ok=True)  # 4 MB+ each
        bar.update()
    if n <= s.noabc_max_n and k == 1:
        bar.set_postfix_str(f"N={n} K={k} bit level, no ABC")
        t1 = time.perf_counter()
        b = synthesize(verilog, folder / "noabc", full=False, noabc=True, timeout=s.timeout_s)
        pt.gate_cells_noabc, pt.gate_flip_flops_noabc = b.cells_noabc, b.flip_flops_noabc
        pt.noabc_s = round(time.perf_counter() - t1, 1)
        bar.update()
    bar.set_postfix_str(f"N={n} K={k} CPU timing")
    pt.cpu_s = _cpu_seconds(n, cfg.m, k, s)
    return pt


def probe_clock(s: Settings, folder: Path) -> dict[str, Any]:
    """Place and route the probe configuration; its resources and clock estimate."""
    from trtrl.rtl.synth import synthesize

    target = s.probe_target
    assert target is not None and s.clock_n is not None
    pfixed = PROBE_FIXED if target == "ice40" else s.fixed
    r = synthesize(folder / "trtrl_array.v", folder / target, target=target,
                   device=s.clock_device, full=True, timeout=s.timeout_s)
    (folder / target / "synth.v").unlink(missing_ok=True)
    return {"target": target, "n": s.clock_n, "m": s.inputs, "k": 1,
            "formats": pfixed.describe(),
            **{key: getattr(r, key) for key in (
                "device", "luts", "carries", "dsps", "block_rams", "flip_flops", "cells",
                "multipliers", "fits", "fmax_mhz", "pnr_note", "multipliers_note")}}


def clock_of(probe: dict[str, Any] | None, s: Settings) -> tuple[float, str]:
    """The clock the speed figures use (the probe's estimate, else the assumed one) and a
    sentence saying where it comes from."""
    if probe and probe.get("fmax_mhz"):
        mhz = float(probe["fmax_mhz"])
        return mhz, (f"nextpnr-{probe['target']} post-route estimate of the probe "
                     f"(N={probe['n']}, {probe['formats']}) on {probe['device']}: "
                     f"{mhz:.1f} MHz, used for every N (an upper bound for larger "
                     "arrays, whose routes are longer); the hw_steps_per_s_assumed "
                     f"column uses the assumed {s.clock_mhz_assumed:g} MHz (not measured)")
    why = ("--clock-target none" if probe is None
           else f"the {probe['target']} probe did not place and route: {probe['pnr_note']}")
    return s.clock_mhz_assumed, f"assumed {s.clock_mhz_assumed:g} MHz (not measured: {why})"


def run(s: Settings, out: str | Path) -> dict[str, Any]:
    """Measure every configuration and the probe, write the report folder atomically and
    return the summary (report.json's content)."""
    t_start = time.perf_counter()
    with atomic_folder(out) as tmp:
        work = tmp / "rtl"
        cache: dict[tuple[Any, ...], Path] = {}
        configs = s.configs
        jobs = (len(configs) + sum(1 for n, k in configs if n <= s.gate_max_n and k == 1)
                + sum(1 for n, k in configs if n <= s.noabc_max_n and k == 1)
                + bool(s.probe_target))
        probe: dict[str, Any] | None = None
        with progress(jobs, "hardware sweep", enabled=s.progress) as bar:
            points = [measure(cfg, _rtl(cfg, cache, work), s, bar)
                      for cfg in (ArrayConfig(n, s.inputs, k, s.fixed) for n, k in configs)]
            if s.probe_target:
                assert s.clock_n is not None
                bar.set_postfix_str(f"N={s.clock_n} K=1 {s.probe_target} {s.clock_device}")
                pfixed = PROBE_FIXED if s.probe_target == "ice40" else s.fixed
                probe = probe_clock(s, _rtl(ArrayConfig(s.clock_n, s.inputs, 1, pfixed),
                                            cache, work, "probe_"))
                bar.update()
        precision, precision_source = precision_rows(s)
        clock_mhz, clock_source = clock_of(probe, s)
        shutil.rmtree(work, ignore_errors=True)  # generated Verilog: regenerable, large
        return _write(tmp, points, probe, word_lengths(precision), precision_source,
                      clock_mhz, clock_source, s.record(), time.perf_counter() - t_start,
                      s.clock_mhz_assumed)


def main(args: argparse.Namespace) -> int:
    """``trtrl experiment hardware``: run, write the folder, print the exponents."""
    result = run(settings_from_args(args), args.out)
    print(f"wrote {args.out}/{{report.md,report.json,hardware.csv,hardware_*.png}}")
    for k, ex in sorted(result["exponents"].items()):
        print(f"K={k}: " + ", ".join(f"{q} ~ N^{v:.2f}" for q, v in ex.items()
                                     if v is not None and not q.startswith("cpu")))
    print(f"clock: {result['clock_source']}")
    return 0


# -- report ---------------------------------------------------------------------------------
def _cells_model_lines(model: dict[str, Any] | None) -> list[str]:
    """The report's paragraph on why the cells grow as N before they grow as N^2."""
    if model is None:
        return []
    a, b, c = model["a"], model["b"], model["c"]
    loc = ", ".join(f"{e:.2f} at N={n}" for n, e in model["local_exponent"].items())
    lines = ["## Cells: datapath against storage", "",
             f"Bit-level cells at K=1 (N = {', '.join(map(str, model['sizes']))}) fit "
             f"`{a:.0f} + {b:.0f} N + {c:.1f} N^2` (worst residual "
             f"{model['worst_residual']:.2%}). The linear term is the N copies of each "
             "element's fixed datapath (nine multipliers and their adders); the quadratic "
             "term is the storage (every element keeps O(N) words, each bit a flip-flop "
             "with its read multiplexers)."]
    if model.get("n_cross"):
        lines[-1] += (f" The two terms are equal at N = {model['n_cross']:.0f}: below it "
                      "the cells grow about as N, beyond it as N^2.")
    lines[-1] += f" Local exponent of the fit: {loc}."
    ho = model.get("holdout")
    if ho:
        lines[-1] += (f" Fitted without N = {ho['n']}, the model predicts {ho['predicted']:.0f} "
                      f"cells there; Yosys counts {ho['measured']:.0f} ({ho['error']:+.2%}).")
    return [*lines, ""]



HEADERS = ["N", "K", "M", "P", "cycles_per_step", "storage_words",
           "multipliers", "ram_bits", "rom_bits", "register_bits", "word_cells",
           "gate_cells", "gate_flip_flops", "gate_cells_noabc", "gate_flip_flops_noabc",
           "noabc_s", "clock_mhz", "hw_steps_per_s",
           "hw_steps_per_s_assumed",
           "cpu_trtrl_steps_per_s", "cpu_rtrl_steps_per_s", "speedup_vs_trtrl",
           "speedup_vs_rtrl"]
QUANTITIES = {"cycles": "cycles_per_step", "storage_words": "storage_words",
              "multipliers": "multipliers", "word_cells": "word_cells",
              "ram_bits": "ram_bits", "gate_cells": "gate_cells",
              "gate_cells_noabc": "gate_cells_noabc"}


def _rows(points: list[Point], clock_mhz: float, assumed_mhz: float) -> list[dict[str, Any]]:
    rows = []
    for p in points:
        hw = clock_mhz * 1e6 / p.cycles
        cpu = {a: (1.0 / s if s else None) for a, s in p.cpu_s.items()}
        rows.append({
            "N": p.n, "K": p.k, "M": p.m, "P": p.lanes, "cycles_per_step": p.cycles,
            "storage_words": p.storage_words,
            "multipliers": p.multipliers, "ram_bits": p.memory_bits, "rom_bits": p.rom_bits,
            "register_bits": p.register_bits, "word_cells": p.word_cells,
            "gate_cells": p.gate_cells, "gate_flip_flops": p.gate_flip_flops,
            "gate_cells_noabc": p.gate_cells_noabc,
            "gate_flip_flops_noabc": p.gate_flip_flops_noabc, "noabc_s": p.noabc_s,
            "clock_mhz": clock_mhz, "hw_steps_per_s": hw,
            "hw_steps_per_s_assumed": assumed_mhz * 1e6 / p.cycles,
            "cpu_trtrl_steps_per_s": cpu.get("trtrl"), "cpu_rtrl_steps_per_s": cpu.get("rtrl"),
            "speedup_vs_trtrl": hw / cpu["trtrl"] if cpu.get("trtrl") else None,
            "speedup_vs_rtrl": hw / cpu["rtrl"] if cpu.get("rtrl") else None,
        })
    return rows


def _exponents(rows: list[dict[str, Any]]) -> dict[int, dict[str, float | None]]:
    out: dict[int, dict[str, float | None]] = {}
    for k in sorted({r["K"] for r in rows}):
        sel = [r for r in rows if r["K"] == k]
        ns = [r["N"] for r in sel]
        out[k] = {q: fit(ns, [r[col] for r in sel]) for q, col in QUANTITIES.items()}
        out[k]["cpu_trtrl_s"] = fit(ns, [1 / r["cpu_trtrl_steps_per_s"]
                                         if r["cpu_trtrl_steps_per_s"] else None for r in sel])
        out[k]["cpu_rtrl_s"] = fit(ns, [1 / r["cpu_rtrl_steps_per_s"]
                                        if r["cpu_rtrl_steps_per_s"] else None for r in sel])
        # The constant terms (M+1 columns, N+1 cycles) flatten the small sizes; the slope
        # between the two largest sizes is closer to the asymptotic exponent.
        if len(sel) >= 3:
            top = sorted(sel, key=lambda r: r["N"])[-2:]
            for q, col in QUANTITIES.items():
                out[k][f"{q}_tail"] = fit([r["N"] for r in top], [r[col] for r in top])
    return out


def _plot_resources(rows: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(16, 8))
    ks = sorted({r["K"] for r in rows})
    panels = [
        ("cycles_per_step", "cycles per learning step",
         f"design {CYCLES_FORMULA}, P = min(N, {DEFAULT_LANES})",
         lambda n, k, m: ArrayConfig(n, m, k).cycles_per_step(),
         "paper O(KN) (O(2KN^2) work / N PEs)", lambda n, k: k * n),
        ("storage_words", "learning-state words (weights, sensitivities)", "design N L (K+3)",
         lambda n, k, m: ArrayConfig(n, m, k).storage_words()["state"], "paper O(N^2)",
         lambda n, k: n * n),
        ("multipliers", "multipliers ($mul cells, Yosys)", "design 4P+1",
         lambda n, k, m: ArrayConfig(n, m, k).multipliers,
         f"paper O(N) (one PE per neuron; here P = min(N, {DEFAULT_LANES}))", lambda n, k: n),
        ("word_cells", "cells (Yosys word level; x bit level no ABC, o gate level; K=1)",
         None, None,
         "O(N^2) reference", lambda n, k: n * n),
    ]
    for ax, (col, title, dlabel, dfun, slabel, sfun) in zip(axes.flat[:4], panels, strict=True):
        for i, k in enumerate(ks):
            sel = [r for r in rows if r["K"] == k]
            ns = np.array([r["N"] for r in sel], float)
            ys = np.array([r[col] for r in sel], float)
            color = f"C{i}"
            ex = fit(list(ns.astype(int)), list(ys))
            ax.plot(ns, ys, "o-", color=color,
                    label=f"K={k} measured" + (f" (~N^{ex:.2f})" if ex is not None else ""))
            if dfun is not None:
                m = sel[0]["M"]
                nn = np.arange(int(ns.min()), int(ns.max()) + 1)
                ax.plot(nn, [dfun(int(v), k, m) for v in nn], ":", color=color, lw=1,
                        label=dlabel if i == 0 else None)
            ref = np.array([sfun(v, k) for v in ns], float)
            ax.plot(ns, ref * ys[0] / ref[0], "--", color=color, alpha=0.5, lw=1,
                    label=slabel + " (scaled)" if i == 0 else None)
            if col == "word_cells":
                g = [(r["N"], r["gate_cells"]) for r in sel if r["gate_cells"]]
                if g:
                    ax.plot([a for a, _ in g], [b for _, b in g], "s", color=color, mfc="none",
                            label=f"K={k} gate cells")
                b = [(r["N"], r["gate_cells_noabc"]) for r in sel if r["gate_cells_noabc"]]
                if b:
                    bn = np.array([a for a, _ in b], float)
                    bc = np.array([c for _, c in b], float)
                    bx = fit(list(bn.astype(int)), list(bc))
                    ax.plot(bn, bc, "x-", color=color, alpha=0.8,
                            label=f"K={k} bit-level cells, no ABC"
                            + (f" (~N^{bx:.2f})" if bx is not None else ""))
                    ax.plot(bn, bn * bn * bc[0] / bn[0] ** 2, "--", color="k", alpha=0.4,
                            lw=1, label="O(N^2) (scaled to bit level)" if i == 0 else None)
        _style_log_axes(ax, title)
    _plot_cells_model(rows, axes.flat[4], axes.flat[5])
    save_figure(fig, path)


def _plot_cells_model(rows: list[dict[str, Any]], ax: Any, ax_ff: Any) -> None:
    """Bit-level cells (K=1) with the fitted datapath (b N) and storage (c N^2) terms."""
    sel = sorted((r for r in rows if r["K"] == 1 and r["gate_cells_noabc"]),
                 key=lambda r: r["N"])
    ns = [r["N"] for r in sel]
    model = fit_quadratic(ns, [r["gate_cells_noabc"] for r in sel])
    if model is not None:
        a, b, c = model["a"], model["b"], model["c"]
        nn = np.geomspace(min(ns), max(256, 4 * max(ns)), 60)
        ax.plot(ns, [r["gate_cells_noabc"] for r in sel], "x", color="C0", ms=8,
                label="measured (bit level, no ABC)")
        ax.plot(nn, a + b * nn + c * nn * nn, "-", color="C0", lw=1,
                label=f"fit {a / 1e3:.1f}k + {b / 1e3:.1f}k N + {c:.0f} N^2")
        ax.plot(nn, b * nn, "--", color="C2", lw=1, label="datapath term b N (~N^1)")
        ax.plot(nn, c * nn * nn, "--", color="C3", lw=1, label="storage term c N^2")
        if model.get("n_cross"):
            ax.axvline(model["n_cross"], color="k", alpha=0.3, lw=1)
            ax.annotate(f"terms equal at N={model['n_cross']:.0f}", (model["n_cross"], c * 4),
                        fontsize=7, rotation=90, va="bottom", ha="right")
        ho = model.get("holdout")
        if ho:
            ax.plot([ho["n"]], [ho["predicted"]], "o", mfc="none", color="C1",
                    label=f"N={ho['n']} predicted from smaller N ({ho['error']:+.1%})")
    _style_log_axes(ax, "bit-level cells (K=1): datapath vs storage")
    ff = [(r["N"], r["gate_flip_flops_noabc"]) for r in sel if r["gate_flip_flops_noabc"]]
    if ff:
        fn = np.array([a for a, _ in ff], float)
        fv = np.array([v for _, v in ff], float)
        ex = fit(list(fn.astype(int)), list(fv))
        ax_ff.plot(fn, fv, "x-", color="C0",
                   label="flip-flops, bit level (memories as flip-flops)"
                   + (f" (~N^{ex:.2f})" if ex is not None else ""))
        ram = [(r["N"], r["ram_bits"]) for r in rows if r["K"] == 1]
        ax_ff.plot([a for a, _ in ram], [v for _, v in ram], "o-", color="C1", alpha=0.6,
                   label="RAM bits (word level)")
        ax_ff.plot(fn, fn * fn * fv[-1] / fn[-1] ** 2, "--", color="k", alpha=0.4, lw=1,
                   label="O(N^2) (scaled)")
    _style_log_axes(ax_ff, "storage bits (K=1)")


def _style_log_axes(ax: Any, title: str) -> None:
    """Log-log axes against N (base 2), titled, gridded, with a small legend."""
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("neurons N")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # an empty panel (no bit-level sizes) has none
        ax.legend(fontsize=7)


def _plot_speed(rows: list[dict[str, Any]], clock_mhz: float, assumed_mhz: float,
                path: Path) -> None:
    plt = pyplot()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, k in enumerate(sorted({r["K"] for r in rows})):
        sel = [r for r in rows if r["K"] == k]
        ns = [r["N"] for r in sel]
        c = f"C{i}"
        ax.plot(ns, [r["hw_steps_per_s"] for r in sel], "o-", color=c,
                label=f"array K={k} @ {clock_mhz:.3g} MHz")
        if assumed_mhz != clock_mhz:
            ax.plot(ns, [r["hw_steps_per_s_assumed"] for r in sel], "o-", color=c, alpha=0.4,
                    label=f"array K={k} @ {assumed_mhz:.3g} MHz (assumed)")
        ax.plot(ns, [r["cpu_trtrl_steps_per_s"] for r in sel], "s--", color=c, mfc="none",
                label=f"CPU float TRTRL K={k}")
        ax.plot(ns, [r["cpu_rtrl_steps_per_s"] for r in sel], "^:", color=c, mfc="none",
                label=f"CPU float RTRL K={k}")
        ax2.plot(ns, [r["speedup_vs_trtrl"] for r in sel], "s--", color=c,
                 label=f"vs TRTRL K={k}")
        ax2.plot(ns, [r["speedup_vs_rtrl"] for r in sel], "^:", color=c,
                 label=f"vs RTRL K={k}")
    _style_log_axes(ax, "learning steps per second")
    _style_log_axes(ax2, "hardware speedup (steps/s ratio)")
    save_figure(fig, path)


def _write(out: Path, points: list[Point], probe: dict[str, Any] | None,
           need: dict[str, dict[str, Any]], precision_source: str, clock_mhz: float,
           clock_source: str, settings: dict[str, Any], wall_s: float,
           assumed_mhz: float) -> dict[str, Any]:
    rows = _rows(points, clock_mhz, assumed_mhz)
    exps = _exponents(rows)
    bit = sorted((r for r in rows if r["K"] == 1 and r["gate_cells_noabc"]),
                 key=lambda r: r["N"])
    cells_model = fit_quadratic([r["N"] for r in bit], [r["gate_cells_noabc"] for r in bit])
    write_csv(out / "hardware.csv", HEADERS, [[r[h] for h in HEADERS] for r in rows])
    _plot_resources(rows, out / "hardware_resources.png")
    _plot_speed(rows, clock_mhz, assumed_mhz, out / "hardware_speed.png")
    result = {"settings": settings, "environment": environment_info(), "rows": rows,
              "exponents": exps, "cells_model": cells_model, "clock_probe": probe,
              "clock_mhz": clock_mhz,
              "clock_source": clock_source, "word_length": need,
              "precision_source": precision_source, "wall_s": round(wall_s, 1)}
    write_json(out / "report.json", result)
    (out / "report.md").write_text(_markdown(rows, exps, cells_model, probe, need,
                                             precision_source, clock_source, settings))
    return result


def _markdown(rows: list[dict[str, Any]], exps: dict[int, dict[str, float | None]],
              cells_model: dict[str, Any] | None, probe: dict[str, Any] | None,
              need: dict[str, dict[str, Any]],
              precision_source: str, clock_source: str, settings: dict[str, Any]) -> str:
    cmd = (f"trtrl experiment hardware -o OUT --ns {','.join(map(str, settings['ns']))} "
           f"--ks {','.join(map(str, settings['ks']))} --inputs {settings['inputs']} "
           f"--gate-max-n {settings['gate_max_n']} "
           f"--noabc-max-n {settings['noabc_max_n']} --seed {settings['seed']} "
           f"--clock-mhz {settings['clock_mhz_assumed']:g}"
           + f" --clock-target {settings['clock_target']}"
           + (f" --clock-n {settings['clock_n']}" if settings["clock_n"] else "")
           + settings["format_args"]
           + (f" --precision-csv {settings['precision_csv']}" if settings["precision_csv"]
              else ""))
    lines = ["# Hardware figures of the TRTRL neuron array", "", f"Command: `{cmd}`", "",
             (__doc__ or "").split("\n\n", 1)[1].strip(), "",
             "## Per configuration", ""]
    cols = ["N", "K", "cycles_per_step", "storage_words", "multipliers", "ram_bits",
            "register_bits", "word_cells", "gate_cells", "gate_flip_flops",
            "gate_cells_noabc", "gate_flip_flops_noabc", "noabc_s", "hw_steps_per_s",
            "hw_steps_per_s_assumed",
            "cpu_trtrl_steps_per_s", "cpu_rtrl_steps_per_s", "speedup_vs_trtrl",
            "speedup_vs_rtrl"]
    lines.append(markdown_table(cols, [[r[c] for c in cols] for r in rows], digits=4))
    lines += ["RAM bits are the learning state (weights, sensitivities; Yosys `$mem` cells); "
              f"the shared activation table adds {rows[0]['rom_bits']} ROM bits at every size. "
              "Generic gate-level synthesis maps memories to flip-flops (gate_flip_flops). "
              "gate_cells_noabc counts cells after `memory_map; techmap; opt -fast` without "
              "ABC (memories as flip-flops and multiplexers; noabc_s is its Yosys time in "
              "seconds).", "",
              "## Growth exponents (slope of log quantity on log N, fixed K)", ""]
    qs = list(QUANTITIES) + ["cpu_trtrl_s", "cpu_rtrl_s"]
    lines.append(markdown_table(["K", *qs], [[k, *[exps[k].get(q) for q in qs]]
                                             for k in sorted(exps)], digits=3))
    tail_ks = [k for k in sorted(exps) if any(q.endswith("_tail") for q in exps[k])]
    if tail_ks:
        tq = [q for q in QUANTITIES if q != "gate_cells"
              and any(exps[k].get(f"{q}_tail") is not None for k in tail_ks)]
        lines += ["Between the two largest sizes (closer to the asymptotic exponent):", ""]
        lines.append(markdown_table(["K", *tq], [[k, *[exps[k].get(f"{q}_tail") for q in tq]]
                                                 for k in tail_ks], digits=3))
    lines += ["Claims of the paper (Budik & Elhanany, 2006): work O(2KN^2) per step, i.e. "
              "O(KN) cycles on N PEs (exponent 1), storage O(N^2) (exponent 2); float RTRL "
              "O(N^4) per step.", ""]
    lines += _cells_model_lines(cells_model)
    lines += [
              "## Clock and speedup", "", f"Clock: {clock_source}.", ""]
    if probe:
        lines += [f"Clock probe ({probe['target']} {probe['device']}) N={probe['n']}, "
                  f"M={probe['m']}, K={probe['k']}, {probe['formats']}: "
                  f"{probe['luts']} LUT4, {probe['carries']} carry cells, "
                  f"{probe['dsps']} DSP blocks, "
                  f"{probe['block_rams']} RAM blocks, {probe['flip_flops']} flip-flops; "
                  f"{probe['multipliers_note']}. {probe['pnr_note'] or ''}", ""]
    lines += ["CPU: float64 models of `pymodel` on this machine, one BLAS thread, best of "
              "repeats (`pymodel.bench.time_model_step`). At these small sizes a step costs "
              "tens of microseconds of Python overhead, so the CPU exponents above measure "
              "overhead and machine load, not the arithmetic growth (`trtrl bench` times "
              "larger N); the speedups are those of this machine at these sizes.", "",
              "## Word length needed per task", "",
              f"Precision sweep {precision_source}; a word length suffices when it and every "
              f"longer one reach a test MSE within {MSE_RATIO_LIMIT:g}x of float64.", ""]
    lines.append(markdown_table(
        ["task", "bits", "A", "W", "P", "MSE / float", "bits tested"],
        [[t, v.get("bits"), v.get("A"), v.get("W"), v.get("P"), v.get("mse_ratio"),
          " ".join(map(str, v["bits_tested"]))] for t, v in need.items()]))
    lines += ["The array here uses the default formats (A 16.14, W/P 18.14); storage bits "
              "scale with the word length.", "",
              "![resources](hardware_resources.png)", "", "![speed](hardware_speed.png)", "",
              f"Settings: `{json.dumps(settings)}`", ""]
    return "\n".join(lines)
