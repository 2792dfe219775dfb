"""Hardware figures of the folded TRTRL core: cycles, multipliers, storage, steps per second.

Three sets of configurations of the folded core (``rtl/folded.py``: ``P`` lanes serve
``N`` neurons in ``R = ceil(N / P)`` row groups), at the formats of the ``--act-format``
... options (default A 16.14, W/P 18.14):

- the *N sweep* at fixed ``P`` (``--ns`` at ``--lanes``, every K of ``--ks``, ``M`` inputs);
- the *P sweep* at fixed ``N`` (``--lane-sweep`` at ``--sweep-n``, ``K = --sweep-k``);
- *the paper's example* (Budik & Elhanany, 2006): N = 100, M = 1, K = 10 at the default
  ``P = 10`` (``--no-paper`` leaves it out).

For every point the design's own figures come from ``ArrayConfig`` (``rtl/config.py``):
cycles per step ``R L (K+3) + max(K, P) + 27`` (``L = M + 1 + N``), multipliers
``4 P + 1``, the products a step needs (useful multiplies), multiplier utilisation
(useful / (multipliers x cycles)) and the memories by kind: block RAM (synchronous
read), register files (asynchronous read: distributed RAM or flip-flops) and the
activation ROM. The Verilog of each point is generated and its manifest read back; up to
``N = --sim-max-n`` one learning step is simulated in MyHDL (``rtl/sim.py``) and its
clock edges counted, the check of the cycle formula that does not come from the formula.
Yosys word-level synthesis (``rtl/synth.py``) counts ``$mul`` cells, memory bits
(memories with a write port: block RAM and register files), ROM bits, register bits and
word-level cells; any disagreement with the design's figures is listed under
"Cross-checks" and makes the command exit 1. Growth exponents are least-squares slopes
of log(quantity) on log(N) (or log(P)).

Learning steps per second of the hardware are ``clock / cycles_per_step``. The clock is
nextpnr's post-route estimate of one probe configuration (``--clock-target``): by default
``N = --clock-n`` (the default ``P``: ``N`` for ``N <= 10``) at the sweep's formats on an
ECP5 LFE5U-85F (``synth_ecp5``, nextpnr-ecp5); with ``ice40`` a cut-down probe on an iCE40 (A 8.6,
W/P 10.6, a 64-entry table). The probe's clock is used for every point, the paper's
example included (larger arrays have longer routes, so it is an upper bound for them)
unless ``--paper-fmax`` gives a post-route clock measured for N = 100; beside it stands
the stated ``--clock-mhz`` assumption. The hardware is set against three models timed
on this CPU in the same run (one BLAS thread, best of repeats, ``pymodel.bench``): float64
RTRL, float64 TRTRL and the bit-accurate fixed-point TRTRL (``FixedTRTRL``, the RTL's
reference); the ratios are the hardware's speed-ups. The fixed-point word length each
task needs is read from the precision sweep (``trtrl experiment precision``;
``--precision-csv`` or a quick sweep run here).
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
from trtrl.rtl.config import (
    CYCLES_FORMULA,
    MANIFEST_FILE,
    VERILOG_FILE,
    ArrayConfig,
    default_lanes,
)

NS_FULL = [4, 8, 16, 32, 64]
NS_QUICK = [4, 8, 16]
KS = [1, 2, 4]
LANES = 4  # P of the N sweep: Verilog and Yosys time grow with P, not N
LANE_SWEEP = {"full": [1, 2, 4, 5, 10, 20], "quick": [1, 2, 4, 8]}
SWEEP_N = {"full": 20, "quick": 8}
SIM_MAX_N = {"full": 32, "quick": 16}
PAPER = (100, 1, 10)  # the paper's example: N, M, K (at the default P)
MODELS = {"rtrl": "float64 RTRL", "trtrl": "float64 TRTRL", "fixed": "fixed-point TRTRL"}
DEFAULT_CLOCK_MHZ = 100.0
# The iCE40 clock probe: narrow formats and a small table.
PROBE_FIXED = FixedConfig(act=FixedFormat(8, 6), weight=FixedFormat(10, 6),
                          sens=FixedFormat(10, 6), acc_bits=20, lut_bits=6, activation="tanh")
CLOCK_N = {"ecp5": 4, "ice40": 1}  # probe sizes that place and route on the default parts
CLOCK_DEVICE = {"ecp5": "85k", "ice40": "hx8k"}
MSE_RATIO_LIMIT = 2.0  # a word length "suffices" when its MSE is within 2x of float64
SWEEP_NAMES = {"n": "N sweep", "p": "P sweep", "paper": "paper"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The experiment's options."""
    q = "--quick"
    parser.add_argument("-o", "--out", required=True, type=user_path, metavar="DIR",
                        help="report folder (written atomically; replaced if it exists)")
    parser.add_argument(q, action="store_true",
                        help=f"N in {NS_QUICK}; P in {LANE_SWEEP['quick']} at N = "
                             f"{SWEEP_N['quick']}; simulation up to N = {SIM_MAX_N['quick']}")
    parser.add_argument("--ns", default=None, metavar="LIST",
                        help=f"N sweep: sizes N (default {NS_FULL}; {q} {NS_QUICK})")
    parser.add_argument("--ks", default=",".join(map(str, KS)), metavar="LIST",
                        help="N sweep: output counts K (each where K <= N; default %(default)s)")
    parser.add_argument("--lanes", "-p", type=int, default=LANES, metavar="P",
                        help="N sweep: lanes P, at most the smallest N (default %(default)s)")
    parser.add_argument("--lane-sweep", default=None, metavar="LIST",
                        help=f"P sweep: lane counts (default {LANE_SWEEP['full']}; "
                             f"{q} {LANE_SWEEP['quick']}; 'none' = no P sweep)")
    parser.add_argument("--sweep-n", type=int, default=None, metavar="N",
                        help=f"P sweep: neurons (default {SWEEP_N['full']}; "
                             f"{q} {SWEEP_N['quick']})")
    parser.add_argument("--sweep-k", type=int, default=1, metavar="K",
                        help="P sweep: outputs (default %(default)s)")
    parser.add_argument("--no-paper", action="store_true",
                        help=f"leave out the paper's example N, M, K = {PAPER} at "
                             f"P = {default_lanes(PAPER[0])}")
    parser.add_argument("--paper-fmax", type=float, default=None, metavar="MHZ",
                        help="a post-route clock measured for the paper's example (default: "
                             "the probe's clock, labelled as such)")
    parser.add_argument("--inputs", "-m", type=int, default=1,
                        help="M, external inputs of both sweeps (the paper's example has 1)")
    parser.add_argument("--sim-max-n", type=int, default=None, metavar="N",
                        help="simulate one step in MyHDL for N <= this (default "
                             f"{SIM_MAX_N['full']}; {q} {SIM_MAX_N['quick']}; 0 = none)")
    parser.add_argument("--no-synth", action="store_true",
                        help="no Yosys word-level synthesis (design and manifest figures only)")
    parser.add_argument("--clock-target", choices=["ecp5", "ice40", "none"], default="ecp5",
                        help="FPGA of the clock probe: ecp5 (sweep formats, default), ice40 "
                             "(narrow probe formats), none (assumed clock only)")
    parser.add_argument("--clock-device", default=None, metavar="DEV",
                        help="part of the clock probe (default ecp5 85k, ice40 hx8k)")
    parser.add_argument("--clock-n", type=int, default=None, metavar="N",
                        help=f"neurons of the clock probe (default ecp5 {CLOCK_N['ecp5']}, "
                             f"ice40 {CLOCK_N['ice40']}); more than 8 takes hours")
    parser.add_argument("--clock-mhz", type=float, default=DEFAULT_CLOCK_MHZ,
                        help="assumed clock, shown beside the probe's "
                             f"(default {DEFAULT_CLOCK_MHZ:g} MHz)")
    parser.add_argument("--precision-csv", default=None, type=user_path, metavar="FILE",
                        help="precision.csv of `trtrl experiment precision` (default: run "
                             "its quick sweep here)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the simulated step, the CPU timing problems and the "
                             "precision sweep")
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


def fit(xs: list[int], values: list[float | None]) -> float | None:
    """Growth exponent over the points with a positive value (None if fewer than 2)."""
    pts = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None and v > 0]
    if len(pts) < 2 or len({x for x, _ in pts}) < 2:
        return None
    return fit_exponent([x for x, _ in pts], [v for _, v in pts])


# -- the design's figures -----------------------------------------------------------------
def bits_by_kind(cfg: ArrayConfig) -> dict[str, int]:
    """Declared memory bits of ``cfg`` by kind: ``ram`` (block RAM), ``regfile``, ``rom``."""
    out = {"ram": 0, "regfile": 0, "rom": 0}
    for mem in cfg.memories().values():
        out[str(mem["kind"])] += int(mem["bits"])
    return out


def design_figures(cfg: ArrayConfig) -> dict[str, Any]:
    """What ``ArrayConfig`` says of ``cfg``: sizes, cycles, multipliers, storage."""
    bits = bits_by_kind(cfg)
    return {
        "N": cfg.n, "M": cfg.m, "K": cfg.k, "P": cfg.lanes, "R": cfg.groups, "L": cfg.L,
        "cycles_per_step": cfg.cycles_per_step(), "multipliers": cfg.multipliers,
        "useful_multiplies": cfg.useful_multiplies(),
        "utilisation": cfg.multiplier_utilisation,
        "state_words": cfg.storage_words()["state"],
        "ram_bits": bits["ram"], "regfile_bits": bits["regfile"], "rom_bits": bits["rom"],
    }


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


# -- settings -------------------------------------------------------------------------------
@dataclass
class Settings:
    """Everything that determines a hardware run (recorded in report.json)."""

    ns: list[int] = field(default_factory=lambda: list(NS_FULL))
    ks: list[int] = field(default_factory=lambda: list(KS))
    lanes: int = LANES
    lane_sweep: list[int] = field(default_factory=lambda: list(LANE_SWEEP["full"]))
    sweep_n: int = SWEEP_N["full"]
    sweep_k: int = 1
    paper: bool = True
    paper_fmax: float | None = None
    inputs: int = 1
    fixed: FixedConfig = field(default_factory=FixedConfig)
    format_args: str = ""  # the format options as typed, for the report's command
    sim_max_n: int = SIM_MAX_N["full"]
    synth: bool = True
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

    def configs(self) -> list[tuple[str, ArrayConfig]]:
        """Every point, tagged with its sweep: ``n``, ``p`` or ``paper``."""
        out = [("n", ArrayConfig(n, self.inputs, k, self.fixed, lanes=self.lanes))
               for k in self.ks for n in self.ns if k <= n]
        out += [("p", ArrayConfig(self.sweep_n, self.inputs, self.sweep_k, self.fixed,
                                  lanes=p)) for p in self.lane_sweep]
        if self.paper:
            n, m, k = PAPER
            out.append(("paper", ArrayConfig(n, m, k, self.fixed)))
        return out

    @property
    def probe_target(self) -> str | None:
        return None if self.clock_target == "none" else self.clock_target

    def record(self) -> dict[str, Any]:
        """The settings as report.json keeps them."""
        return {"ns": self.ns, "ks": self.ks, "lanes": self.lanes,
                "lane_sweep": self.lane_sweep, "sweep_n": self.sweep_n,
                "sweep_k": self.sweep_k, "paper": self.paper, "paper_fmax": self.paper_fmax,
                "inputs": self.inputs, "sim_max_n": self.sim_max_n, "synth": self.synth,
                "formats": self.fixed.describe(), "format_args": self.format_args,
                "clock_target": self.clock_target, "clock_device": self.clock_device,
                "clock_n": self.clock_n, "clock_mhz_assumed": self.clock_mhz_assumed,
                "seed": self.seed, "bench_seconds": self.bench_seconds,
                "timeout_s": self.timeout_s, "quick": self.quick,
                # as the user would type it here (the option holds it made absolute)
                "precision_csv": (os.path.relpath(self.precision_csv) if self.precision_csv
                                  else None),
                "mse_ratio_limit": MSE_RATIO_LIMIT}


def _positive(value: float | None, option: str) -> None:
    if value is not None and value <= 0:
        raise TrtrlError(f"{option}: must be > 0, got {value:g}")


def _lane_sweep(args: argparse.Namespace, mode: str) -> list[int]:
    if args.lane_sweep is None:
        return list(LANE_SWEEP[mode])
    if args.lane_sweep.strip().lower() == "none":
        return []
    return parse_sizes(args.lane_sweep, "--lane-sweep")


def _check_lanes(s: Settings) -> None:
    """The lane counts against the sizes they serve (one line naming the option)."""
    if s.lanes < 1 or s.lanes > min(s.ns):
        raise TrtrlError(f"--lanes: need 1 <= P <= the smallest N of --ns ({min(s.ns)}), "
                         f"got {s.lanes}")
    if s.lane_sweep and s.sweep_n < 1:
        raise TrtrlError(f"--sweep-n: must be >= 1, got {s.sweep_n}")
    if s.lane_sweep and max(s.lane_sweep) > s.sweep_n:
        raise TrtrlError(f"--lane-sweep: P = {max(s.lane_sweep)} exceeds --sweep-n "
                         f"{s.sweep_n}")
    if s.lane_sweep and not 1 <= s.sweep_k <= s.sweep_n:
        raise TrtrlError(f"--sweep-k: need 1 <= K <= --sweep-n ({s.sweep_n}), got "
                         f"{s.sweep_k}")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The run settings from the parsed options; a bad option is refused before any run."""
    mode = "quick" if args.quick else "full"
    ns = parse_sizes(args.ns, "--ns") if args.ns else list(NS_QUICK if args.quick else NS_FULL)
    if args.inputs < 0:
        raise TrtrlError(f"--inputs: must be >= 0, got {args.inputs}")
    for value, option in ((args.clock_mhz, "--clock-mhz"), (args.paper_fmax, "--paper-fmax"),
                          (args.bench_seconds, "--bench-seconds"), (args.timeout, "--timeout")):
        _positive(value, option)
    if args.paper_fmax is not None and args.no_paper:
        raise TrtrlError("--paper-fmax: the paper's example is left out (--no-paper)")
    s = Settings(
        ns=ns, ks=parse_sizes(args.ks, "--ks"), lanes=args.lanes,
        lane_sweep=_lane_sweep(args, mode),
        sweep_n=args.sweep_n if args.sweep_n is not None else SWEEP_N[mode],
        sweep_k=args.sweep_k, paper=not args.no_paper, paper_fmax=args.paper_fmax,
        inputs=args.inputs, fixed=config_from_args(args, "tanh"),
        format_args=_format_args(args),
        sim_max_n=args.sim_max_n if args.sim_max_n is not None else SIM_MAX_N[mode],
        synth=not args.no_synth, clock_target=args.clock_target,
        clock_mhz_assumed=args.clock_mhz, precision_csv=args.precision_csv, seed=args.seed,
        bench_seconds=args.bench_seconds, timeout_s=args.timeout, quick=args.quick,
        progress=not args.no_progress)
    _check_lanes(s)
    if not any(k <= n for k in s.ks for n in s.ns):
        raise TrtrlError("no configuration with K <= N: check --ns and --ks")
    if s.probe_target:
        from trtrl.rtl.synth import resolve_device

        s.clock_n = args.clock_n if args.clock_n is not None else CLOCK_N[s.probe_target]
        if s.clock_n < 1:
            raise TrtrlError(f"--clock-n: must be >= 1, got {s.clock_n}")
        s.clock_device = resolve_device(s.probe_target,
                                        args.clock_device or CLOCK_DEVICE[s.probe_target])
    s.configs()  # refuse a bad format/size pair before anything runs
    return s


# -- measurements ---------------------------------------------------------------------------
@dataclass
class Point:
    """One configuration: its sweep, the design and what the run measured of it."""

    sweep: str  # "n", "p" or "paper"
    cfg: ArrayConfig
    manifest: dict[str, int] = field(default_factory=dict)
    gen_s: float = 0.0
    sim_cycles: int | None = None
    synth: dict[str, Any] | None = None
    cpu_s: dict[str, float | None] = field(default_factory=dict)


def _generate(cfg: ArrayConfig, folder: Path) -> tuple[dict[str, int], float]:
    """Generate the Verilog of ``cfg``; the manifest's cycles, multipliers and lanes."""
    from trtrl.rtl.generate import generate
    from trtrl.rtl.manifest import Manifest

    t0 = time.perf_counter()
    generate(cfg, folder)
    man = Manifest.read(folder / MANIFEST_FILE)
    return ({"cycles_per_step": man.cycles_per_step,
             "multipliers": int(man.details["multipliers"]),
             "lanes": int(man.details["lanes"])}, time.perf_counter() - t0)


def simulated_cycles(cfg: ArrayConfig, seed: int = 0) -> int:
    """Clock edges of one learning step of ``cfg`` in MyHDL (handshake to ``s_ready``)."""
    from trtrl.rtl.sim import simulate

    rng = np.random.default_rng(seed)
    w0 = rng.integers(-256, 256, size=(cfg.n, cfg.L))
    x = rng.integers(-1000, 1000, size=(1, cfg.m))
    d = rng.integers(-1000, 1000, size=(1, cfg.k))
    res = simulate(cfg, w0, x, d, readback_every=0, skip_readback=True)
    return int(res.cycles[0])


def _word_level(folder: Path, timeout: float) -> dict[str, Any]:
    from trtrl.rtl.synth import synthesize

    t0 = time.perf_counter()
    r = synthesize(folder / VERILOG_FILE, folder / "word", full=False, timeout=timeout)
    return {"yosys_muls": r.multipliers, "yosys_memory_bits": r.memory_bits,
            "yosys_rom_bits": r.rom_bits, "yosys_memories": r.memories,
            "register_bits": r.register_bits, "word_cells": r.word_cells,
            "yosys_s": round(time.perf_counter() - t0, 1)}


def cpu_seconds(n: int, m: int, k: int, cfg: FixedConfig, s: Settings) -> dict[str, float | None]:
    """Seconds per step of the three CPU models at (N, M, K), one BLAS thread."""
    from trtrl.pymodel.bench import blas_threads, time_fixed_step, time_model_step

    out: dict[str, float | None] = {}
    with blas_threads(1):
        for alg in ("rtrl", "trtrl"):
            out[alg] = time_model_step(alg, n, m, k, repeats=5, max_seconds=s.bench_seconds,
                                       seed=s.seed).seconds
        out["fixed"] = time_fixed_step(n, m, k, cfg, repeats=5, max_seconds=s.bench_seconds,
                                       seed=s.seed).seconds
    return out


def measure(sweep: str, cfg: ArrayConfig, folder: Path, s: Settings, bar: Any,
            cpu_cache: dict[tuple[int, int, int], dict[str, float | None]]) -> Point:
    """Generate, simulate (small N), synthesize (word level) and time the CPU models."""
    label = f"{SWEEP_NAMES[sweep]} N={cfg.n} K={cfg.k} P={cfg.lanes}"
    pt = Point(sweep, cfg)
    bar.set_postfix_str(f"{label}: Verilog")
    pt.manifest, pt.gen_s = _generate(cfg, folder)
    bar.update()
    if cfg.n <= s.sim_max_n:
        bar.set_postfix_str(f"{label}: MyHDL step")
        pt.sim_cycles = simulated_cycles(cfg, s.seed)
        bar.update()
    if s.synth:
        bar.set_postfix_str(f"{label}: Yosys word level")
        pt.synth = _word_level(folder, s.timeout_s)
        bar.update()
    key = (cfg.n, cfg.m, cfg.k)
    if key not in cpu_cache:
        bar.set_postfix_str(f"{label}: CPU timing")
        cpu_cache[key] = cpu_seconds(cfg.n, cfg.m, cfg.k, cfg.fixed, s)
    pt.cpu_s = cpu_cache[key]
    bar.update()
    return pt


def probe_clock(s: Settings, cfg: ArrayConfig, folder: Path) -> dict[str, Any]:
    """Place and route the probe configuration; its resources and clock estimate."""
    from trtrl.rtl.generate import generate
    from trtrl.rtl.synth import synthesize

    target = s.probe_target
    assert target is not None
    generate(cfg, folder)
    r = synthesize(folder / VERILOG_FILE, folder / target, target=target,
                   device=s.clock_device, full=True, timeout=s.timeout_s)
    return {"target": target, "n": cfg.n, "m": cfg.m, "k": cfg.k, "lanes": cfg.lanes,
            "formats": cfg.fixed.describe(),
            **{key: getattr(r, key) for key in (
                "device", "luts", "carries", "dsps", "block_rams", "lut_rams", "flip_flops",
                "cells", "multipliers", "fits", "fmax_mhz", "pnr_note", "multipliers_note")}}


def clock_of(probe: dict[str, Any] | None, s: Settings) -> tuple[float, str, str]:
    """The clock the speed figures use (the probe's estimate, else the assumed one), its
    short label and a sentence saying where it comes from."""
    if probe and probe.get("fmax_mhz"):
        mhz = float(probe["fmax_mhz"])
        label = f"probe N={probe['n']} P={probe['lanes']} ({probe['target']})"
        return mhz, label, (
            f"nextpnr-{probe['target']} post-route estimate of the probe (N={probe['n']}, "
            f"P={probe['lanes']}, {probe['formats']}) on {probe['device']}: {mhz:.1f} MHz, "
            "used for every point (an upper bound for larger arrays, whose routes are "
            f"longer); hw_steps_per_s_assumed uses the assumed {s.clock_mhz_assumed:g} MHz")
    why = ("--clock-target none" if probe is None
           else f"the {probe['target']} probe did not place and route: {probe['pnr_note']}")
    return (s.clock_mhz_assumed, "assumed",
            f"assumed {s.clock_mhz_assumed:g} MHz (not measured: {why})")


def run(s: Settings, out: str | Path) -> dict[str, Any]:
    """Measure every point and the probe, write the report folder atomically and return
    the summary (report.json's content)."""
    t_start = time.perf_counter()
    configs = s.configs()
    small = sum(1 for _, c in configs if c.n <= s.sim_max_n)
    jobs = len(configs) * (2 + s.synth) + small + bool(s.probe_target)
    with atomic_folder(out) as tmp:
        work = tmp / "rtl"
        cpu_cache: dict[tuple[int, int, int], dict[str, float | None]] = {}
        probe: dict[str, Any] | None = None
        with progress(jobs, "hardware sweep", enabled=s.progress) as bar:
            points = [measure(sweep, cfg, work / f"{sweep}_n{cfg.n}_k{cfg.k}_p{cfg.lanes}",
                              s, bar, cpu_cache) for sweep, cfg in configs]
            if s.probe_target:
                assert s.clock_n is not None
                bar.set_postfix_str(f"clock probe N={s.clock_n} {s.probe_target} "
                                    f"{s.clock_device}: place and route")
                pfixed = PROBE_FIXED if s.probe_target == "ice40" else s.fixed
                pcfg = ArrayConfig(s.clock_n, s.inputs, 1, pfixed)
                probe = probe_clock(s, pcfg, work / f"probe_n{s.clock_n}")
                bar.update()
        precision, precision_source = precision_rows(s)
        clock = clock_of(probe, s)
        shutil.rmtree(work, ignore_errors=True)  # generated Verilog: regenerable, large
        return _write(tmp, points, probe, word_lengths(precision), precision_source, clock,
                      s, time.perf_counter() - t_start)


def main(args: argparse.Namespace) -> int:
    """``trtrl experiment hardware``: run, write the folder, print the main figures; exit 1
    when a cross-check failed."""
    result = run(settings_from_args(args), args.out)
    print(f"wrote {args.out}/{{report.md,report.json,hardware.csv,hardware_*.png}}")
    for k, ex in sorted(result["fits"]["n_sweep"].items()):
        print(f"N sweep K={k}: cycles ~ N^{ex['cycles']:.2f}" if ex["cycles"] is not None
              else f"N sweep K={k}: one size")
    for row in result["rows"]:
        if row["sweep"] == "paper":
            print(f"paper N=100 K=10 P={row['P']}: {row['cycles_per_step']} cycles, "
                  f"{row['multipliers']} multipliers, {row['utilisation']:.0%} busy, "
                  f"{row['hw_steps_per_s']:.4g} steps/s at {row['clock_mhz']:.4g} MHz "
                  f"({row['clock_from']})")
    print(f"clock: {result['clock_source']}")
    for problem in result["checks"]:
        print(f"CROSS-CHECK FAILED: {problem}")
    return 1 if result["checks"] else 0


# -- rows, checks and fits ------------------------------------------------------------------
def row_of(p: Point, clock: tuple[float, str], assumed_mhz: float) -> dict[str, Any]:
    """One report row: the design's figures, what was measured, steps per second."""
    row: dict[str, Any] = {"sweep": p.sweep, **design_figures(p.cfg)}
    row["manifest_cycles"] = p.manifest.get("cycles_per_step")
    row["manifest_multipliers"] = p.manifest.get("multipliers")
    row["sim_cycles"] = p.sim_cycles
    row.update(p.synth or {k: None for k in ("yosys_muls", "yosys_memory_bits",
                                             "yosys_rom_bits", "yosys_memories",
                                             "register_bits", "word_cells", "yosys_s")})
    row["gen_s"] = round(p.gen_s, 1)
    mhz, label = clock
    cycles = row["cycles_per_step"]
    row.update(clock_mhz=mhz, clock_from=label, hw_steps_per_s=mhz * 1e6 / cycles,
               hw_steps_per_s_assumed=assumed_mhz * 1e6 / cycles)
    for alg in MODELS:
        sec = p.cpu_s.get(alg)
        row[f"cpu_{alg}_steps_per_s"] = 1.0 / sec if sec else None
        row[f"speedup_vs_{alg}"] = row["hw_steps_per_s"] * sec if sec else None
    return row


def cross_checks(rows: list[dict[str, Any]]) -> list[str]:
    """Every disagreement between the design's figures and what the run measured."""
    problems = []
    for r in rows:
        where = f"{SWEEP_NAMES[r['sweep']]} N={r['N']} K={r['K']} P={r['P']}"
        pairs = [("manifest cycles", r["manifest_cycles"], r["cycles_per_step"]),
                 ("manifest multipliers", r["manifest_multipliers"], r["multipliers"]),
                 ("simulated cycles", r["sim_cycles"], r["cycles_per_step"]),
                 ("Yosys $mul cells", r["yosys_muls"], r["multipliers"]),
                 ("Yosys memory bits", r["yosys_memory_bits"],
                  r["ram_bits"] + r["regfile_bits"]),
                 ("Yosys ROM bits", r["yosys_rom_bits"], r["rom_bits"])]
        problems += [f"{where}: {what} {got} != {want} (ArrayConfig)"
                     for what, got, want in pairs if got is not None and got != want]
    return problems


def _sel(rows: list[dict[str, Any]], sweep: str, k: int | None = None) -> list[dict[str, Any]]:
    return [r for r in rows if r["sweep"] == sweep and (k is None or r["K"] == k)]


def n_sweep_fits(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per K: exponents on N at fixed P (cycles tend to 2, as R L ~ N^2 / P; storage 2;
    multipliers 0), the slope between the two largest N, and cycles over ``R L (K+3)``."""
    out: dict[int, dict[str, Any]] = {}
    for k in sorted({r["K"] for r in _sel(rows, "n")}):
        sel = sorted(_sel(rows, "n", k), key=lambda r: r["N"])
        ns = [r["N"] for r in sel]
        ex: dict[str, Any] = {q: fit(ns, [r[q] for r in sel]) for q in (
            "cycles_per_step", "state_words", "ram_bits", "word_cells", "register_bits")}
        ex["cycles"] = ex.pop("cycles_per_step")
        ex["cycles_tail"] = fit(ns[-2:], [r["cycles_per_step"] for r in sel[-2:]])
        top = sel[-1]
        ex["cycles_over_RL_K3"] = top["cycles_per_step"] / (top["R"] * top["L"] * (k + 3))
        # Yosys's count where it ran, else the design's
        ex["multipliers"] = sorted({r["multipliers"] if r["yosys_muls"] is None
                                    else r["yosys_muls"] for r in sel})
        out[k] = ex
    return out


def p_sweep_fits(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """On P at fixed N: cycles' exponent (about -1 while R = N / P dominates), the straight
    line through the Yosys multiplier counts (4 P + 1 expected) and utilisation's range."""
    sel = sorted(_sel(rows, "p"), key=lambda r: r["P"])
    if len(sel) < 2:
        return None
    ps = [r["P"] for r in sel]
    muls = [r["yosys_muls"] for r in sel]
    line = (np.polyfit(ps, muls, 1).tolist() if all(m is not None for m in muls)
            and len(set(ps)) > 1 else None)
    return {"cycles": fit(ps, [r["cycles_per_step"] for r in sel]),
            "word_cells": fit(ps, [r["word_cells"] for r in sel]),
            "multiplier_line": line,
            "utilisation": [min(r["utilisation"] for r in sel),
                            max(r["utilisation"] for r in sel)]}


# -- plots ----------------------------------------------------------------------------------
def _log_axes(ax: Any, title: str, xlabel: str) -> None:
    """Log-log axes (x base 2), titled, gridded, with a small legend."""
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def _formula(n: int, m: int, k: int, p: int) -> int:
    return ArrayConfig(n, m, k, lanes=p).cycles_per_step()


def _plot_n_panels(rows: list[dict[str, Any]], axes: Any) -> None:
    """Top row: cycles, storage, utilisation and cells against N at fixed P."""
    ax_c, ax_s, ax_u, ax_w = axes
    ks = sorted({r["K"] for r in _sel(rows, "n")})
    p = _sel(rows, "n")[0]["P"] if ks else None
    for i, k in enumerate(ks):
        sel = sorted(_sel(rows, "n", k), key=lambda r: r["N"])
        ns, m, c = [r["N"] for r in sel], sel[0]["M"], f"C{i}"
        ex = fit(ns, [r["cycles_per_step"] for r in sel])
        ax_c.plot(ns, [r["cycles_per_step"] for r in sel], "o", color=c,
                  label=f"K={k}" + (f" (~N^{ex:.2f})" if ex is not None else ""))
        sims = [(r["N"], r["sim_cycles"]) for r in sel if r["sim_cycles"]]
        if sims:
            ax_c.plot(*zip(*sims, strict=True), "x", color="k", ms=7,
                      label="simulated (MyHDL)" if i == 0 else None)
        nn = np.arange(min(ns), max(ns) + 1)
        ax_c.plot(nn, [_formula(int(n), m, k, p) for n in nn], "-", color=c, lw=0.8,
                  label=CYCLES_FORMULA if i == 0 else None)
        ax_u.plot(ns, [r["utilisation"] for r in sel], "o-", color=c, label=f"K={k}")
        ax_w.plot(ns, [r["word_cells"] for r in sel], "o-", color=c, label=f"K={k} cells")
        ax_w.plot(ns, [r["register_bits"] for r in sel], "s--", color=c, mfc="none",
                  label=f"K={k} register bits")
        if i == 0:
            ram = [r["ram_bits"] for r in sel]
            ax_s.plot(ns, ram, "o-", color="C0", label="block RAM bits (declared)")
            ax_s.plot(ns, [r["regfile_bits"] for r in sel], "^-", color="C2",
                      label="register-file bits")
            yb = [(r["N"], r["yosys_memory_bits"]) for r in sel if r["yosys_memory_bits"]]
            if yb:
                ax_s.plot(*zip(*yb, strict=True), "x", color="k", ms=7,
                          label="Yosys memory bits (RAM + register files)")
            ax_s.plot(ns, [ram[-1] * (n / ns[-1]) ** 2 for n in ns], "--", color="k",
                      alpha=0.4, lw=1, label="O(N^2) (scaled)")
            ax_c.plot(ns, [sel[-1]["cycles_per_step"] * (n / ns[-1]) ** 2 for n in ns],
                      "--", color="k", alpha=0.4, lw=1, label="N^2 / P (scaled)")
    where = f"at P = {p}" if p else ""
    _log_axes(ax_c, f"cycles per learning step {where}", "neurons N")
    _log_axes(ax_s, f"storage bits {where} (K = {ks[0] if ks else '-'})", "neurons N")
    _shared_axes(ax_u, ax_w, where, "neurons N")


def _shared_axes(ax_u: Any, ax_w: Any, where: str, xlabel: str) -> None:
    """The utilisation (a linear 0..1 axis) and the Yosys counts panels of either row."""
    _log_axes(ax_u, f"multiplier utilisation {where}", xlabel)
    ax_u.set_yscale("linear")
    ax_u.set_ylim(0, 1)
    _log_axes(ax_w, f"Yosys word-level cells, register bits {where}", xlabel)


def _plot_p_panels(rows: list[dict[str, Any]], axes: Any) -> None:
    """Bottom row: cycles, multipliers, utilisation and cells against P at fixed N."""
    ax_c, ax_m, ax_u, ax_w = axes
    sel = sorted(_sel(rows, "p"), key=lambda r: r["P"])
    if sel:
        ps, r0 = [r["P"] for r in sel], sel[0]
        n, m, k = r0["N"], r0["M"], r0["K"]
        where = f"at N = {n}, K = {k}"
        ax_c.plot(ps, [r["cycles_per_step"] for r in sel], "o", color="C0", label="ArrayConfig")
        sims = [(r["P"], r["sim_cycles"]) for r in sel if r["sim_cycles"]]
        if sims:
            ax_c.plot(*zip(*sims, strict=True), "x", color="k", ms=7, label="simulated (MyHDL)")
        pp = np.arange(1, max(ps) + 1)
        ax_c.plot(pp, [_formula(n, m, k, int(p)) for p in pp], "-", color="C0", lw=0.8,
                  label=CYCLES_FORMULA)
        ax_m.plot(pp, 4 * pp + 1, "-", color="C0", lw=0.8, label="4 P + 1")
        ym = [(r["P"], r["yosys_muls"]) for r in sel if r["yosys_muls"]]
        if ym:
            ax_m.plot(*zip(*ym, strict=True), "x", color="k", ms=7, label="Yosys $mul cells")
        ax_u.plot(ps, [r["utilisation"] for r in sel], "o-", color="C0",
                  label="useful / (multipliers x cycles)")
        ax_w.plot(ps, [r["word_cells"] for r in sel], "o-", color="C0", label="cells")
        ax_w.plot(ps, [r["register_bits"] for r in sel], "s--", color="C0", mfc="none",
                  label="register bits")
    else:
        where = "(no P sweep)"
    _log_axes(ax_c, f"cycles per learning step {where}", "lanes P")
    _log_axes(ax_m, f"multipliers {where}", "lanes P")
    _shared_axes(ax_u, ax_w, where, "lanes P")


def plot_resources(rows: list[dict[str, Any]], path: Path) -> None:
    """The resources figure: N at fixed P (top), P at fixed N (bottom)."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 4, figsize=(20, 8.5))
    _plot_n_panels(rows, axes[0])
    _plot_p_panels(rows, axes[1])
    save_figure(fig, path)


SERIES = {"hw": ("hardware", "k", "-"), "rtrl": ("CPU float64 RTRL", "C0", ":"),
          "trtrl": ("CPU float64 TRTRL", "C1", "--"),
          "fixed": ("CPU fixed-point TRTRL", "C2", "-.")}
K_MARKS = "osD^v<>p"


def _legend(ax: Any, models: list[str], ks: list[int], paper: bool) -> None:
    """One legend entry per model (colour) and per K (marker), not one per curve."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=SERIES[m][1], ls=SERIES[m][2], label=SERIES[m][0])
               for m in models]
    handles += [Line2D([], [], color="grey", marker=K_MARKS[i % len(K_MARKS)], ls="none",
                       label=f"N sweep K={k}") for i, k in enumerate(ks)]
    if paper:
        handles.append(Line2D([], [], color="grey", marker="*", ms=11, ls="none",
                              label=f"paper N=100 K=10 P={default_lanes(PAPER[0])}"))
    ax.legend(handles=handles, fontsize=7)


def _speed_vs_n(rows: list[dict[str, Any]], ax: Any, ax2: Any) -> None:
    """Steps per second (hardware, three CPU models) and speed-ups against N."""
    ks = sorted({r["K"] for r in _sel(rows, "n")})
    for i, k in enumerate(ks):
        sel = sorted(_sel(rows, "n", k), key=lambda r: r["N"])
        ns, mark = [r["N"] for r in sel], K_MARKS[i % len(K_MARKS)]
        for m, (_, color, ls) in SERIES.items():
            col = "hw_steps_per_s" if m == "hw" else f"cpu_{m}_steps_per_s"
            ax.plot(ns, [r[col] for r in sel], marker=mark, color=color, ls=ls,
                    mfc="none" if m != "hw" else color, lw=2 if m == "hw" else 1)
            if m != "hw":
                ax2.plot(ns, [r[f"speedup_vs_{m}"] for r in sel], marker=mark, color=color,
                         ls=ls)
    paper = _sel(rows, "paper")
    for r in paper:
        for m, (_, color, _ls) in SERIES.items():
            col = "hw_steps_per_s" if m == "hw" else f"cpu_{m}_steps_per_s"
            ax.plot([r["N"]], [r[col]], "*", color=color, ms=11)
            if m != "hw":
                ax2.plot([r["N"]], [r[f"speedup_vs_{m}"]], "*", color=color, ms=11)
    pts = _sel(rows, "n") + paper
    clocks = sorted({f"{r['clock_mhz']:.3g} MHz ({r['clock_from']})" for r in pts})
    p = _sel(rows, "n")[0]["P"] if ks else None
    _log_axes(ax, f"learning steps per second (N sweep at P = {p})\nhardware at "
              + "; ".join(clocks), "neurons N")
    _log_axes(ax2, "hardware speed-up (steps/s ratio)", "neurons N")
    _legend(ax, list(SERIES), ks, bool(paper))
    _legend(ax2, [m for m in SERIES if m != "hw"], ks, bool(paper))


def plot_speed(rows: list[dict[str, Any]], path: Path) -> None:
    """Steps per second of the hardware and the CPU models against N; the speed-ups; the
    hardware against P."""
    plt = pyplot()
    fig, (ax, ax2, ax3) = plt.subplots(1, 3, figsize=(17, 5))
    _speed_vs_n(rows, ax, ax2)
    sel = sorted(_sel(rows, "p"), key=lambda r: r["P"])
    if sel:
        ps = [r["P"] for r in sel]
        for m, (label, color, ls) in SERIES.items():
            col = "hw_steps_per_s" if m == "hw" else f"cpu_{m}_steps_per_s"
            ax3.plot(ps, [r[col] for r in sel], marker="o", color=color, ls=ls, label=label,
                     mfc="none" if m != "hw" else color, lw=2 if m == "hw" else 1)
        _log_axes(ax3, f"steps per second at N = {sel[0]['N']}, K = {sel[0]['K']}",
                  "lanes P")
    else:
        ax3.set_axis_off()
    save_figure(fig, path)


# -- report ---------------------------------------------------------------------------------
HEADERS = ["sweep", "N", "M", "K", "P", "R", "L", "cycles_per_step", "manifest_cycles",
           "sim_cycles", "multipliers", "manifest_multipliers", "yosys_muls",
           "useful_multiplies", "utilisation", "state_words", "ram_bits", "regfile_bits",
           "rom_bits", "yosys_memory_bits", "yosys_rom_bits", "yosys_memories",
           "register_bits", "word_cells", "gen_s", "yosys_s", "clock_mhz", "clock_from",
           "hw_steps_per_s", "hw_steps_per_s_assumed", "cpu_rtrl_steps_per_s",
           "cpu_trtrl_steps_per_s", "cpu_fixed_steps_per_s", "speedup_vs_rtrl",
           "speedup_vs_trtrl", "speedup_vs_fixed"]
DESIGN_COLS = ["N", "K", "P", "R", "cycles_per_step", "sim_cycles", "multipliers",
               "yosys_muls", "useful_multiplies", "utilisation", "state_words", "ram_bits",
               "regfile_bits", "yosys_memory_bits", "register_bits", "word_cells", "gen_s",
               "yosys_s"]
SPEED_COLS = ["sweep", "N", "K", "P", "cycles_per_step", "clock_mhz", "clock_from",
              "hw_steps_per_s", "cpu_rtrl_steps_per_s", "cpu_trtrl_steps_per_s",
              "cpu_fixed_steps_per_s", "speedup_vs_rtrl", "speedup_vs_trtrl",
              "speedup_vs_fixed"]


def _write(out: Path, points: list[Point], probe: dict[str, Any] | None,
           need: dict[str, dict[str, Any]], precision_source: str,
           clock: tuple[float, str, str], s: Settings, wall_s: float) -> dict[str, Any]:
    rows = []
    for p in points:
        if p.sweep == "paper" and s.paper_fmax:
            rows.append(row_of(p, (s.paper_fmax, "--paper-fmax"), s.clock_mhz_assumed))
        else:
            rows.append(row_of(p, clock[:2], s.clock_mhz_assumed))
    fits = {"n_sweep": n_sweep_fits(rows), "p_sweep": p_sweep_fits(rows)}
    checks = cross_checks(rows)
    write_csv(out / "hardware.csv", HEADERS, [[r[h] for h in HEADERS] for r in rows])
    plot_resources(rows, out / "hardware_resources.png")
    plot_speed(rows, out / "hardware_speed.png")
    result = {"settings": s.record(), "environment": environment_info(), "rows": rows,
              "fits": fits, "checks": checks, "clock_probe": probe, "clock_mhz": clock[0],
              "clock_source": clock[2], "word_length": need,
              "precision_source": precision_source, "wall_s": round(wall_s, 1)}
    write_json(out / "report.json", result)
    (out / "report.md").write_text(markdown(result))
    return result


def command_of(settings: dict[str, Any]) -> str:
    """The command line that repeats a run with these settings."""
    st = settings
    lanes = ",".join(map(str, st["lane_sweep"])) or "none"
    return ("trtrl experiment hardware -o OUT"
            f" --ns {','.join(map(str, st['ns']))} --ks {','.join(map(str, st['ks']))}"
            f" --lanes {st['lanes']} --lane-sweep {lanes} --sweep-n {st['sweep_n']}"
            f" --sweep-k {st['sweep_k']} --inputs {st['inputs']}"
            f" --sim-max-n {st['sim_max_n']}"
            + ("" if st["paper"] else " --no-paper")
            + (f" --paper-fmax {st['paper_fmax']:g}" if st["paper_fmax"] else "")
            + ("" if st["synth"] else " --no-synth")
            + f" --clock-target {st['clock_target']}"
            + (f" --clock-n {st['clock_n']}" if st["clock_n"] else "")
            + f" --clock-mhz {st['clock_mhz_assumed']:g} --seed {st['seed']}"
            + st["format_args"]
            + (f" --precision-csv {st['precision_csv']}" if st["precision_csv"] else ""))


def _n_sweep_lines(rows: list[dict[str, Any]], fits: dict[int, dict[str, Any]]) -> list[str]:
    sel = _sel(rows, "n")
    if not sel:
        return []
    lines = [f"## N sweep at P = {sel[0]['P']}", "",
             markdown_table(DESIGN_COLS, [[r[c] for c in DESIGN_COLS] for r in sel])]
    cols = ["cycles", "cycles_tail", "cycles_over_RL_K3", "state_words", "ram_bits",
            "word_cells", "register_bits"]
    lines += ["Exponents on N (least-squares slope of log quantity on log N; `cycles_tail` "
              "between the two largest N; `cycles_over_RL_K3` is cycles / (R L (K+3)) at "
              "the largest N, which tends to 1):", "",
              markdown_table(["K", *cols, "multipliers"],
                             [[k, *[f[c] for c in cols], " ".join(map(str, f["multipliers"]))]
                              for k, f in fits.items()], digits=3)]
    lines += ["Cycles grow as R L (K+3) ~ N^2 (K+3) / P once the fixed `max(K, P) + 27` "
              "is small beside it; the multipliers stay at 4 P + 1 whatever N; the "
              "learning state (N L (K+3) words) is O(N^2).", ""]
    return lines


def _p_sweep_lines(rows: list[dict[str, Any]], fits: dict[str, Any] | None) -> list[str]:
    sel = sorted(_sel(rows, "p"), key=lambda r: r["P"])
    if not sel:
        return []
    lines = [f"## P sweep at N = {sel[0]['N']}, K = {sel[0]['K']}", "",
             markdown_table(DESIGN_COLS, [[r[c] for c in DESIGN_COLS] for r in sel])]
    if fits:
        line = fits["multiplier_line"]
        lines += [f"Exponent of cycles on P: {fits['cycles']:.3f} (-1 while R = ceil(N/P) "
                  "sets the step; the `max(K, P)` term and whole row groups bend it); of "
                  f"word-level cells: {fits['word_cells'] or 0:.3f}. "
                  + (f"Yosys multipliers fit {line[0]:.3f} P + {line[1]:.3f}. " if line else "")
                  + f"Multiplier utilisation from {fits['utilisation'][0]:.1%} to "
                  f"{fits['utilisation'][1]:.1%}.", ""]
    return lines


def _paper_lines(rows: list[dict[str, Any]]) -> list[str]:
    sel = _sel(rows, "paper")
    if not sel:
        return []
    r = sel[0]
    return [f"## The paper's example: N = {r['N']}, M = {r['M']}, K = {r['K']}, P = {r['P']}",
            "", markdown_table(DESIGN_COLS, [[r[c] for c in DESIGN_COLS]]),
            f"{r['cycles_per_step']} cycles per step, {r['multipliers']} multipliers busy "
            f"{r['utilisation']:.1%} of the time with useful products "
            f"({r['useful_multiplies']} a step), learning state {r['state_words']} words, "
            f"{r['ram_bits']} block RAM bits declared. Clock: {r['clock_mhz']:.4g} MHz from "
            f"{r['clock_from']}"
            + ("" if r["clock_from"] == "--paper-fmax" else
               " (not the N = 100 array's own clock: none was measured in this run; pass "
               "one with --paper-fmax)")
            + f", so {r['hw_steps_per_s']:.4g} learning steps per second. No place and "
            "route of this size is run here.", ""]


def _speed_lines(result: dict[str, Any]) -> list[str]:
    rows, probe = result["rows"], result["clock_probe"]
    lines = ["## Learning steps per second", "", f"Clock: {result['clock_source']}.", ""]
    if probe:
        lines += [f"Clock probe ({probe['target']} {probe['device']}) N={probe['n']}, "
                  f"P={probe['lanes']}, M={probe['m']}, K={probe['k']}, {probe['formats']}: "
                  f"{probe['luts']} LUT4, {probe['carries']} carry cells, {probe['dsps']} DSP "
                  f"blocks, {probe['block_rams']} RAM blocks, {probe['lut_rams']} LUT RAMs, "
                  f"{probe['flip_flops']} flip-flops; {probe['multipliers_note']}. "
                  f"{(probe['pnr_note'] or '').rstrip('.')}.", ""]
    lines += [markdown_table(SPEED_COLS, [[r[c] for c in SPEED_COLS] for r in rows]),
              "CPU: float64 RTRL and TRTRL (`pymodel.models`) and the bit-accurate fixed-point "
              "TRTRL (`FixedTRTRL`), on this machine in this run, one BLAS thread, best of "
              "repeats (`pymodel.bench`). They do not depend on P (the P sweep repeats one "
              "timing). At small N a CPU step is mostly Python overhead (tens of "
              "microseconds), so its growth with N is not the arithmetic's (`trtrl bench` "
              "times larger N). Speed-up = hardware steps/s over the model's.", ""]
    return lines


def markdown(result: dict[str, Any]) -> str:
    """report.md of a run (report.json's content)."""
    st, rows, need = result["settings"], result["rows"], result["word_length"]
    lines = ["# Hardware figures of the folded TRTRL core", "",
             f"Command: `{command_of(st)}` (wall time {result['wall_s']:.0f} s)", "",
             (__doc__ or "").split("\n\n", 1)[1].strip(), ""]
    lines += _n_sweep_lines(rows, result["fits"]["n_sweep"])
    lines += _p_sweep_lines(rows, result["fits"]["p_sweep"])
    lines += _paper_lines(rows)
    lines += ["## Cross-checks", ""]
    lines += ([f"- {c}" for c in result["checks"]] or [
        "Every manifest, every simulated step and every Yosys count agrees with ArrayConfig "
        "(cycles, multipliers, memory and ROM bits) at every point."]) + [""]
    lines += _speed_lines(result)
    lines += ["## Word length needed per task", "",
              f"Precision sweep: {result['precision_source']}. A word length suffices when it "
              f"and every longer one reach a test MSE within {MSE_RATIO_LIMIT:g}x of "
              "float64.", "",
              markdown_table(["task", "bits", "A", "W", "P", "MSE / float", "bits tested"],
                             [[t, v.get("bits"), v.get("A"), v.get("W"), v.get("P"),
                               v.get("mse_ratio"), " ".join(map(str, v["bits_tested"]))]
                              for t, v in need.items()]),
              f"The array here uses {st['formats']}; storage bits scale with the word "
              "length.", "",
              "![resources](hardware_resources.png)", "", "![speed](hardware_speed.png)", "",
              f"Settings: `{json.dumps(st)}`", ""]
    return "\n".join(lines)
