"""Build-and-run plumbing shared by the pytest runners and ``trtrl regress``.

One :class:`TbConfig` names a configuration of the array plus its stimulus; :func:`run_case`
generates (or takes) the Verilog, writes the quantised stimulus, builds it with
cocotb's runner in a build folder of its own, runs the cocotb test
``testbenches.test_trtrl_array.test_trtrl_array`` and returns the per-test result
(a JSON file beside the build). A failing run without waveforms is run once more with
waveforms on, so a failure always leaves a dump to look at.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from pymodel.errors import TrtrlError
from pymodel.fixed.formats import FixedConfig, FixedFormat

REPO = Path(__file__).resolve().parent.parent
BUILD_ROOT = Path(os.environ.get("TRTRL_TB_BUILD", REPO / "build" / "tb"))
TB_MODULE = "testbenches.test_trtrl_array.test_trtrl_array"
SIMULATORS = ("icarus", "verilator")
WAVE_FORMATS = ("vcd", "fst")
CLOCK_NS = 10
TOP = "trtrl_array"
# The project's default formats (pymodel/fixed/formats.py): a configuration that names no
# format tests the configuration the README advertises.
_DEFAULT_FIXED = FixedConfig()

# Ports every DUT must have (rtl/README.md); widths come from the manifest.
REQUIRED_PORTS = (
    "clk", "rst", "s_valid", "s_ready", "s_x", "s_d", "r_valid", "r_y", "r_e", "learn",
    "lr_shift", "clear", "busy", "m_addr", "m_wdata", "m_we", "m_re", "m_rdata", "m_rvalid",
    "step_count", "sat_count",
)


@dataclass(frozen=True)
class TbConfig:
    """One regression configuration: array size, formats, stimulus and how much to check.

    ``task`` is ``random`` (small random network with a smooth target), ``saturate``
    (large weights and targets, so clamps fire), ``freq`` (frequency doubler) or
    ``mackey`` (Mackey-Glass). ``checkpoint_every`` steps the weights and all
    sensitivities are read back (0: only after the last step).
    """

    name: str
    n: int
    m: int
    k: int
    steps: int
    task: str = "random"
    act: str = str(_DEFAULT_FIXED.act)
    weight: str = str(_DEFAULT_FIXED.weight)
    sens: str = str(_DEFAULT_FIXED.sens)
    acc_bits: int | None = None  # None: the default (40) or the narrowest allowed if wider
    lut_bits: int = _DEFAULT_FIXED.lut_bits
    activation: str = "tanh"
    lr_shift: int | None = None  # None: from the case's learning rate
    checkpoint_every: int = 1
    seed: int = 1
    slow: bool = False
    sims: tuple[str, ...] = SIMULATORS
    compare_float: bool = False  # also report (and bound) the MSE against the float model
    # learning on/off per step (length ``steps``); None: learn on every step
    learn_steps: tuple[bool, ...] | None = None

    def fixed(self) -> FixedConfig:
        act, weight, sens = (FixedFormat.parse(s) for s in (self.act, self.weight, self.sens))
        base = FixedConfig(act=act, weight=weight, sens=sens, lut_bits=self.lut_bits,
                           activation=self.activation)
        L = self.m + 1 + self.n
        acc = self.acc_bits if self.acc_bits is not None else base.acc_bits
        return replace(base, acc_bits=max(acc, base.min_acc_bits(L)))


# The matrix. Default run: tiny on both simulators, faults on Icarus (test_faults.py),
# the N=15 frequency doubler (short) on Verilator; the rest is marked slow.
CONFIGS: dict[str, TbConfig] = {
    c.name: c
    for c in (
        TbConfig("tiny", n=2, m=1, k=1, steps=40),
        TbConfig("k_eq_n", n=3, m=1, k=3, steps=30, slow=True),
        TbConfig("m0", n=3, m=0, k=1, steps=30, slow=True),
        TbConfig("narrow", n=3, m=2, k=2, steps=40, act="10.8", weight="10.6", sens="10.6",
                 lut_bits=8, task="saturate", slow=True),
        TbConfig("wide", n=3, m=1, k=2, steps=30, act="24.22", weight="24.18", sens="24.18",
                 lut_bits=12, slow=True),
        TbConfig("sigmoid", n=3, m=1, k=1, steps=30, activation="sigmoid", slow=True),
        TbConfig("freq15", n=15, m=1, k=1, steps=60, task="freq", checkpoint_every=20,
                 sims=("verilator",)),
        TbConfig("freq15_icarus", n=15, m=1, k=1, steps=60, task="freq", checkpoint_every=20,
                 sims=("icarus",), slow=True),
        TbConfig("mackey25", n=25, m=1, k=1, steps=100, task="mackey", checkpoint_every=50,
                 slow=True),
        # lr 2**-5: the rate the default formats were chosen at (pymodel/fixed/formats.py);
        # see testbenches/README.md, "Learning-curve margin", for 2**-4
        TbConfig("freq15_learn", n=15, m=1, k=1, steps=6000, task="freq", lr_shift=5,
                 checkpoint_every=1000, sims=("verilator",), slow=True, compare_float=True),
    )
}


# -- seeded random configurations ---------------------------------------------------------
# Formats the draws pick from: narrow ones that saturate, the old 16.12 pair, the project
# defaults and wide ones. (act, weight, sens, lut_bits); a draw whose formats the
# activation cannot use (FixedConfig refuses them) takes the next format of the list.
RANDOM_FORMATS: tuple[tuple[str, str, str, int], ...] = (
    ("10.8", "10.6", "10.6", 8),
    ("12.10", "12.8", "12.8", 8),
    ("16.14", "16.12", "16.12", 10),
    (str(_DEFAULT_FIXED.act), str(_DEFAULT_FIXED.weight), str(_DEFAULT_FIXED.sens),
     _DEFAULT_FIXED.lut_bits),
    ("24.22", "24.18", "24.18", 12),
)
DEFAULT_TB_SEED = 1234
RANDOM_DRAWS = 3  # default run: Icarus only
RANDOM_DRAWS_FULL = 12  # --full: both simulators


def random_config(seed: int, sims: tuple[str, ...] = SIMULATORS) -> TbConfig:
    """A small configuration drawn from ``numpy.random.default_rng(seed)``, named ``rand-s<seed>``.

    N in 1..4, M in 0..2, K in 1..N, tanh or sigmoid, formats from :data:`RANDOM_FORMATS`,
    task random or saturate, ``lr_shift`` in 1..8, learning switched on/off per step
    (each step off with probability 1/4, or every step on/off for a whole run now and
    then), 20..30 steps, a full read-back after every step. Only the seed matters: the
    same seed gives the same configuration whatever the base seed of the run was.
    """
    from pymodel.errors import ConfigError

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5))
    m = int(rng.integers(0, 3))
    k = int(rng.integers(1, n + 1))
    activation = ("tanh", "sigmoid")[int(rng.integers(0, 2))]
    task = ("random", "saturate")[int(rng.integers(0, 2))]
    lr_shift = int(rng.integers(1, 9))
    steps = int(rng.integers(20, 31))
    mode = int(rng.integers(0, 8))  # 0: never learn, 1: always, else per step
    if mode == 0:
        learn = np.zeros(steps, dtype=bool)
    elif mode == 1:
        learn = np.ones(steps, dtype=bool)
    else:
        learn = rng.random(steps) >= 0.25
    first = int(rng.integers(0, len(RANDOM_FORMATS)))
    for i in range(len(RANDOM_FORMATS)):
        act, weight, sens, lut_bits = RANDOM_FORMATS[(first + i) % len(RANDOM_FORMATS)]
        cfg = TbConfig(f"rand-s{seed}", n=n, m=m, k=k, steps=steps, task=task, act=act,
                       weight=weight, sens=sens, lut_bits=lut_bits, activation=activation,
                       lr_shift=lr_shift, checkpoint_every=1, seed=seed, sims=sims,
                       learn_steps=tuple(bool(v) for v in learn))
        try:
            cfg.fixed()
        except ConfigError:
            continue
        return cfg
    raise TrtrlError(f"random_config({seed}): no format of RANDOM_FORMATS fits")  # not reached


def random_configs(base_seed: int, full: bool) -> list[TbConfig]:
    """The draws of a run: seeds ``base_seed, base_seed + 1, ...`` (3, or 12 with --full)."""
    count = RANDOM_DRAWS_FULL if full else RANDOM_DRAWS
    sims = SIMULATORS if full else ("icarus",)
    return [random_config(base_seed + i, sims) for i in range(count)]


def describe(cfg: TbConfig) -> str:
    """One line naming a configuration's sizes, formats, task and learning."""
    learn = ("every step" if cfg.learn_steps is None or all(cfg.learn_steps) else
             "never" if not any(cfg.learn_steps) else
             f"{sum(cfg.learn_steps)}/{len(cfg.learn_steps)} steps")
    return (f"N={cfg.n} M={cfg.m} K={cfg.k} {cfg.activation} A={cfg.act} W={cfg.weight} "
            f"P={cfg.sens} lut_bits={cfg.lut_bits} task={cfg.task} lr_shift={cfg.lr_shift} "
            f"steps={cfg.steps} learn {learn}")


# -- stimulus ---------------------------------------------------------------------------
def quantize(values: Any, fmt: FixedFormat) -> np.ndarray:
    """``q_F(x) = sat_F(floor(x * 2**frac + 0.5))`` (FIXED_POINT.md)."""
    raw = np.floor(np.asarray(values, dtype=np.float64) * (1 << fmt.frac) + 0.5)
    return np.clip(raw, fmt.min, fmt.max).astype(np.int64)


def make_case(cfg: TbConfig) -> Any:
    """The golden stimulus (a :class:`pymodel.cases.Case`) of a configuration."""
    from pymodel.cases import validate_case

    if cfg.task == "freq":
        from pymodel.tasks import freq_doubler_case

        return freq_doubler_case(cfg.steps, neurons=cfg.n, seed=cfg.seed,
                                 activation=cfg.activation)
    if cfg.task == "mackey":
        from pymodel.tasks import mackey_glass_case

        return mackey_glass_case(cfg.steps, neurons=cfg.n, seed=cfg.seed,
                                 activation=cfg.activation)
    rng = np.random.default_rng(cfg.seed)
    L = cfg.m + 1 + cfg.n
    t = np.arange(cfg.steps, dtype=np.float64)
    x = 0.8 * np.sin(0.37 * t[:, None] + np.arange(cfg.m)[None, :])  # (T, 0) for M = 0
    d = 0.7 * np.cos(0.23 * t[:, None] + 0.5 * np.arange(cfg.k)[None, :])
    scale = 0.6
    if cfg.task == "saturate":
        # targets near the edge of A's range and large weights: e, W and p clamps fire
        d = np.where(np.sin(0.9 * t)[:, None] > 0, 1.95, -1.95) * np.ones((1, cfg.k))
        wfmt = FixedFormat.parse(cfg.weight)
        scale = 0.95 * wfmt.max / (1 << wfmt.frac)
    elif cfg.task != "random":
        raise TrtrlError(f"task: unknown {cfg.task!r}")
    if cfg.activation == "sigmoid":
        d = 0.5 + 0.4 * d
    w0 = rng.uniform(-scale, scale, size=(cfg.n, L))
    return validate_case({
        "x": x, "d": d, "w0": w0, "lr": np.float64(0.125 if cfg.task == "random" else 0.5),
        "algorithm": np.array("trtrl"), "activation": np.array(cfg.activation),
    })


def write_stimulus(path: Path, case: Any, fixed: FixedConfig, lr_shift: int | None,
                   learn: bool = True,
                   learn_steps: tuple[bool, ...] | None = None) -> dict[str, Any]:
    """Quantise a case and save what the testbench drives (x_q, d_q, w0_q, lr_shift).

    ``learn_steps`` (one flag per step) drives the ``learn`` input step by step; the
    reference model follows it.
    """
    from pymodel.fixed.model import lr_shift_from_lr

    steps = int(np.asarray(case.x).shape[0])
    if learn_steps is None:
        per_step = np.full(steps, bool(learn))
    else:
        per_step = np.asarray(learn_steps, dtype=bool)
        if per_step.shape != (steps,):
            raise TrtrlError(f"learn_steps: {per_step.shape[0]} flags for {steps} steps")
        learn = bool(per_step.any())
    shift = lr_shift if lr_shift is not None else lr_shift_from_lr(case.lr, learn)
    arrays = {
        "x_q": quantize(case.x, fixed.act),
        "d_q": quantize(case.d, fixed.act),
        "w0_q": quantize(case.w0, fixed.weight),
        "lr_shift": np.int64(shift),
        "learn": np.bool_(learn),
        "learn_steps": per_step,
        # the float case rides along for the MSE comparison with the float model
        "x": np.asarray(case.x, dtype=np.float64),
        "d": np.asarray(case.d, dtype=np.float64),
        "w0": np.asarray(case.w0, dtype=np.float64),
        "lr": np.float64(case.lr),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return arrays


# -- manifest ---------------------------------------------------------------------------
@dataclass
class Manifest:
    """What the testbench needs from ``trtrl_array.json`` (rtl/README.md)."""

    n: int
    m: int
    k: int
    fixed: FixedConfig
    idx_bits: int
    read_latency: int
    clear_cycles: int
    cycles_per_step: int | None
    verilog: str
    top: str
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def L(self) -> int:
        return self.m + 1 + self.n


def _first(d: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if key in d:
            return d[key]
    return default


def load_manifest(path: Path) -> Manifest:
    """Read a manifest; a missing file or key is a one-line :class:`TrtrlError`."""
    path = Path(path)
    if not path.is_file():
        raise TrtrlError(f"manifest {path}: no such file (give --manifest FILE.json)")
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise TrtrlError(f"manifest {path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise TrtrlError(f"manifest {path}: expected a JSON object")
    params = raw.get("parameters", raw)
    try:
        n = int(_first(params, "neurons", "n"))
        m = int(_first(params, "inputs", "m"))
        k = int(_first(params, "outputs", "k"))
        fixed_d = _first(raw, "fixed", "fixed_config", "formats")
        fixed = FixedConfig.from_dict(fixed_d)
    except (TypeError, KeyError, ValueError) as exc:
        raise TrtrlError(
            f"manifest {path}: needs neurons, inputs, outputs and a 'fixed' object ({exc!s})"
        ) from None
    L = m + 1 + n
    idx_bits = int(_first(raw, "idx_bits", default=max(1, math.ceil(math.log2(n * L)))))
    verilog = str(_first(raw, "verilog", "verilog_file", default=f"{TOP}.v"))
    if isinstance(raw.get("verilog"), dict):
        verilog = str(raw["verilog"].get("file", f"{TOP}.v"))
    top = str(_first(raw, "top", "hdl_toplevel", default=TOP))
    cps = _first(raw, "cycles_per_step")
    if isinstance(cps, dict):
        cps = cps.get("value", cps.get("cycles"))
    return Manifest(
        n=n, m=m, k=k, fixed=fixed, idx_bits=idx_bits,
        read_latency=int(_first(raw, "read_latency", default=1)),
        clear_cycles=int(_first(raw, "clear_cycles", default=0)),
        cycles_per_step=int(cps) if cps is not None else None,
        verilog=verilog, top=top, raw=raw,
    )


def check_ports(verilog: Path, top: str) -> None:
    """Refuse a Verilog file whose module ``top`` lacks a port of the interface.

    A quick textual parse (module header and port declarations), enough to give a
    one-line error before a simulator prints pages of its own.
    """
    if not verilog.is_file():
        raise TrtrlError(f"{verilog}: no such file")
    text = re.sub(r"//[^\n]*|/\*.*?\*/", "", verilog.read_text(errors="replace"), flags=re.S)
    match = re.search(rf"\bmodule\s+{re.escape(top)}\b(.*?)\bendmodule\b", text, flags=re.S)
    if match is None:
        names = re.findall(r"\bmodule\s+(\w+)", text)
        found = f" (modules found: {', '.join(names)})" if names else ""
        raise TrtrlError(f"{verilog}: no module {top!r}{found}; give --top NAME")
    body = match.group(1)
    declared = set(re.findall(r"\b(?:input|output|inout)\b[^;,)]*?(\w+)\s*(?=[;,)=])", body))
    # also the names in a non-ANSI header "module x (a, b, c);"
    header = re.match(r"\s*(?:#\s*\(.*?\)\s*)?\((.*?)\)\s*;", body, flags=re.S)
    if header:
        declared |= set(re.findall(r"(\w+)\s*(?:,|$)", header.group(1)))
    missing = [p for p in REQUIRED_PORTS if p not in declared]
    if missing:
        raise TrtrlError(
            f"{verilog}: module {top} lacks port(s) {', '.join(missing)} of the trtrl_array "
            f"interface (rtl/README.md)"
        )


# -- generated RTL ----------------------------------------------------------------------
def generate_rtl(cfg: TbConfig, out_dir: Path) -> tuple[Path, Path]:
    """Verilog and manifest of a configuration, from ``rtl.generate``."""
    try:
        import rtl.config
        import rtl.generate
    except ImportError as exc:  # the RTL generator is not in this tree
        raise TrtrlError(f"rtl.generate is not available ({exc}); use --rtl FILE.v") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    array = rtl.config.ArrayConfig(n=cfg.n, m=cfg.m, k=cfg.k, fixed=cfg.fixed())
    verilog, manifest = rtl.generate.generate(array, out_dir)
    return Path(verilog), Path(manifest)


def cached_rtl(cfg: TbConfig) -> tuple[Path, Path]:
    """:func:`generate_rtl` once per configuration and generator version, shared by tests.

    The key hashes the sizes, the formats and the generator's sources; a file lock
    lets parallel pytest workers wait for one generation instead of repeating it.
    """
    import fcntl
    import hashlib

    h = hashlib.sha256(repr((cfg.n, cfg.m, cfg.k, cfg.fixed().to_dict())).encode())
    for src in sorted((REPO / "rtl").glob("*.py")):
        h.update(src.read_bytes())
    out = BUILD_ROOT / "rtl-cache" / h.hexdigest()[:16]
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = out / "done.json"
        if done.exists():
            paths = json.loads(done.read_text())
            return Path(paths[0]), Path(paths[1])
        verilog, manifest = generate_rtl(cfg, out)
        done.write_text(json.dumps([str(verilog), str(manifest)]))
        return verilog, manifest


# -- runners ----------------------------------------------------------------------------
# Icarus 11 cannot parse input-port default values (`input E = 1'b1`, SystemVerilog 2009),
# which Yosys's iCE40 cell models use unless this macro is set; its netlists connect every
# such port anyway, so the defaults are not needed there.
_ICARUS_LIBRARY_MACROS = ("NO_ICE40_DEFAULT_ASSIGNMENTS",)


def library_defines(sim: str, sources: Sequence[Path]) -> dict[str, str]:
    """Macros a simulator needs to compile the cell libraries among ``sources``.

    Only Icarus needs any: ``NO_ICE40_DEFAULT_ASSIGNMENTS`` when a source is Yosys's
    ``ice40/cells_sim.v`` (recognised by the macro's ``ifndef``, whatever its path).
    """
    if sim != "icarus":
        return {}
    texts = [Path(s).read_text(errors="replace") for s in sources]
    return {name: "1" for name in _ICARUS_LIBRARY_MACROS
            if any(f"ifndef {name}" in text for text in texts)}


# cocotb's Verilator runner always passes --public-flat-rw, which keeps every signal of the
# design reachable through VPI and stops Verilator from optimising them away: the model
# runs 4-5 times slower and builds longer. The testbench drives and reads ports only, so
# by default the harness drops the flag and makes just the top-level ports public (a
# control file); waveforms do not need it (--trace dumps internal signals anyway). A test
# that reads or pokes an internal signal through VPI asks for ``verilator_public=True``
# (or TRTRL_VERILATOR_PUBLIC=1 for every run).
PUBLIC_ENV = "TRTRL_VERILATOR_PUBLIC"
PORTS_VLT = "public_ports.vlt"


def verilator_public_default() -> bool:
    """All signals public in Verilator builds? ``TRTRL_VERILATOR_PUBLIC``, else no."""
    return os.environ.get(PUBLIC_ENV, "") not in ("", "0")


def ports_control_file(path: Path, top: str, ports: Sequence[str]) -> Path:
    """A Verilator control file making exactly ``ports`` of module ``top`` public (rw)."""
    lines = ["`verilator_config", "// written by testbenches/harness.py: VPI sees the ports only"]
    lines += [f'public_flat_rw -module "{top}" -var "{p}"' for p in ports]
    path.write_text("\n".join(lines) + "\n")
    return path


def _runner(sim: str, wave_format: str, verilator_public: bool = True) -> Any:
    """cocotb's runner for ``sim``; Icarus is taught to write VCD when asked.

    ``verilator_public=False`` builds Verilator without ``--public-flat-rw`` (give the
    build a :func:`ports_control_file` among its sources).
    """
    from cocotb_tools.runner import Icarus, Verilator, get_runner

    if sim not in SIMULATORS:
        raise TrtrlError(f"simulator: unknown {sim!r} (icarus or verilator)")
    if sim == "verilator":
        from rtl.toolchain import verilator_env

        verilator_env()
        if verilator_public:
            return get_runner("verilator")

        class VerilatorPortsOnly(Verilator):
            """Verilator without the runner's fixed ``--public-flat-rw``."""

            def _build_command(self) -> list[Any]:
                cmds = super()._build_command()
                if "--public-flat-rw" not in cmds[0]:  # a cocotb that no longer adds it
                    return cmds
                return [[a for a in cmds[0] if a != "--public-flat-rw"], *cmds[1:]]

        return VerilatorPortsOnly()
    if wave_format == "fst":
        return get_runner("icarus")

    class IcarusVcd(Icarus):
        """Icarus with ``-vcd`` instead of the runner's fixed ``-fst`` dump format."""

        def _test_command(self) -> list[Any]:
            cmds = super()._test_command()
            return [["-vcd" if a == "-fst" else a for a in cmd] for cmd in cmds]

    return IcarusVcd()


@dataclass
class RunResult:
    """Outcome of one case on one simulator (also written as ``result.json``)."""

    test: str
    sim: str
    passed: bool
    message: str = ""
    steps: int = 0
    cycles_per_step: float | None = None
    sim_cycles: int = 0
    wall_s: float = 0.0
    build_s: float = 0.0
    sim_cycles_per_s: float | None = None
    steps_per_s: float | None = None
    waves: str | None = None
    gtkw: str | None = None
    build_dir: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _build_and_test(
    *,
    name: str,
    sim: str,
    verilog: Path,
    manifest: Path,
    top: str,
    stimulus: Path,
    build_dir: Path,
    checkpoint_every: int,
    waves: bool,
    wave_format: str,
    extra_env: dict[str, str] | None = None,
    compare_float: bool = False,
    rerun_hint: bool = True,
    extra_sources: Sequence[Path] = (),
    verilator_public: bool = False,
) -> RunResult:
    from cocotb_tools.check_results import get_results

    build_dir.mkdir(parents=True, exist_ok=True)
    public = sim == "verilator" and verilator_public
    runner = _runner(sim, wave_format, public)
    control: list[Path] = []
    if sim == "verilator" and not public:
        control = [ports_control_file(build_dir / PORTS_VLT, top, REQUIRED_PORTS)]
    build_args: list[str] = []
    test_args: list[str] = []
    plusargs: list[str] = []
    dump = build_dir / f"dump.{wave_format}"
    if sim == "verilator":
        build_args += ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3"]
        if waves and wave_format == "fst":
            build_args += ["--trace-fst"]
        if waves:
            test_args += ["--trace-file", str(dump)]
    elif waves:
        plusargs += [f"+dumpfile_path={dump}"]
    if dump.exists():
        dump.unlink()
    t0 = time.perf_counter()
    log = build_dir / "build.log"
    try:
        runner.build(
            # the design first, so it keeps the runner's default timescale even when a
            # library (cells_sim.v: 1ps/1ps) sets its own; a control file has none, and
            # the runner takes the last source's language for the top level's
            sources=[*map(str, control), str(verilog), *(str(s) for s in extra_sources)],
            defines=library_defines(sim, extra_sources),
            hdl_toplevel=top,
            build_dir=str(build_dir),
            build_args=build_args,
            waves=waves,
            timescale=("1ns", "1ps"),
            always=True,
            log_file=str(log),
        )
    except (SystemExit, Exception) as exc:  # noqa: B014 - the runner exits on tool errors
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        return RunResult(test=name, sim=sim, passed=False, build_dir=str(build_dir),
                         message=f"build failed ({exc!r}):\n{tail}")
    build_s = time.perf_counter() - t0
    result_json = build_dir / "result.json"
    if result_json.exists():
        result_json.unlink()
    tb_cfg = {
        "name": name, "sim": sim, "manifest": str(manifest), "stimulus": str(stimulus),
        "checkpoint_every": checkpoint_every, "result": str(result_json),
        "clock_ns": CLOCK_NS, "waves": str(dump) if waves else None,
        "compare_float": compare_float,
        "waves_hint": (f"dump {dump}" if waves else
                       "this run had waves off; the harness reruns a failing case with waves on"
                       if rerun_hint else "waves were off: rerun with --waves"),
    }
    cfg_path = build_dir / "tb_config.json"
    cfg_path.write_text(json.dumps(tb_cfg, indent=1))
    env = {"TRTRL_TB_CONFIG": str(cfg_path), "PYTHONPATH": os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    env.update(extra_env or {})
    results_xml = build_dir / "results.xml"
    t1 = time.perf_counter()
    with contextlib.suppress(SystemExit):  # the runner sys.exit()s on a failed test
        runner.test(
            test_module=TB_MODULE,
            hdl_toplevel=top,
            build_dir=str(build_dir),
            test_dir=str(build_dir),
            extra_env=env,
            waves=waves,
            test_args=test_args,
            plusargs=plusargs,
            results_xml=str(results_xml),
            log_file=str(build_dir / "sim.log"),
            timescale=("1ns", "1ps") if sim == "icarus" else None,
        )
    wall = time.perf_counter() - t1
    try:
        ntests, nfail = get_results(results_xml)
    except (RuntimeError, FileNotFoundError, OSError):
        ntests, nfail = 0, 1
    data: dict[str, Any] = {}
    if result_json.exists():
        data = json.loads(result_json.read_text())
    passed = ntests > 0 and nfail == 0 and data.get("passed", False)
    message = data.get("message", "")
    if not passed and not message:
        tail = ""
        sim_log = build_dir / "sim.log"
        if sim_log.exists():
            tail = sim_log.read_text(errors="replace")[-3000:]
        message = f"simulation failed without a scoreboard verdict; log tail:\n{tail}"
    res = RunResult(
        test=name, sim=sim, passed=passed, message=message,
        steps=int(data.get("steps", 0)), cycles_per_step=data.get("cycles_per_step"),
        sim_cycles=int(data.get("sim_cycles", 0)), wall_s=round(wall, 3),
        build_s=round(build_s, 3), build_dir=str(build_dir),
        extra={k: v for k, v in data.items() if k not in {"passed", "message"}},
    )
    if extra_sources:
        res.extra["extra_sources"] = [str(s) for s in extra_sources]
    if sim == "verilator":
        res.extra["verilator_public"] = public
    sim_wall = data.get("sim_wall_s") or wall
    if res.sim_cycles and sim_wall:
        res.sim_cycles_per_s = round(res.sim_cycles / sim_wall, 1)
        res.steps_per_s = round(res.steps / sim_wall, 2)
    if waves and dump.exists():
        from testbenches.waves import write_gtkw

        res.waves = str(dump)
        res.gtkw = str(write_gtkw(dump, manifest))
    (build_dir / "run.json").write_text(json.dumps(res.to_json(), indent=1))
    return res


def run_case(
    cfg: TbConfig,
    sim: str,
    *,
    waves: bool | None = None,
    wave_format: str | None = None,
    build_root: Path | None = None,
    verilog: Path | None = None,
    manifest: Path | None = None,
    top: str | None = None,
    mutate: Any = None,
    rerun_with_waves: bool = True,
    tag: str = "",
    extra_sources: Sequence[Path] = (),
    verilator_public: bool | None = None,
) -> RunResult:
    """Build and simulate one configuration; returns its :class:`RunResult`.

    ``verilog``/``manifest`` run a given design (``trtrl regress --rtl``), else the
    design is generated. ``extra_sources`` are compiled after it (a cell library such as
    Yosys's ``ice40/cells_sim.v`` for an iCE40 netlist). ``mutate(text) -> text`` edits a
    copy of the design's Verilog, not the extra sources (fault injection). ``waves``
    defaults to the ``TRTRL_WAVES`` environment variable. ``verilator_public`` (default
    :func:`verilator_public_default`, i.e. no) builds Verilator with every signal
    reachable through VPI, for a test that reads internal signals; the build folders of
    such a run end in ``-public``, so the two builds never share one.
    """
    if waves is None:
        waves = os.environ.get("TRTRL_WAVES", "") not in ("", "0")
    wave_format = wave_format or os.environ.get("TRTRL_WAVES_FORMAT", "vcd")
    if wave_format not in WAVE_FORMATS:
        raise TrtrlError(f"waves format: unknown {wave_format!r} (vcd or fst)")
    extra = [Path(s).resolve() for s in extra_sources]
    for src in extra:
        if not src.is_file():
            raise TrtrlError(f"extra source {src}: no such file")
    root = build_root or BUILD_ROOT
    case_dir = root / f"{cfg.name}{tag}-{sim}"
    if case_dir.exists():
        shutil.rmtree(case_dir, ignore_errors=True)
    case_dir.mkdir(parents=True, exist_ok=True)
    if verilog is None:
        verilog, manifest = cached_rtl(cfg)
    assert manifest is not None
    man = load_manifest(manifest)
    top = top or man.top
    if mutate is not None:
        text = Path(verilog).read_text()
        mutated = mutate(text)
        if mutated == text:
            raise TrtrlError(f"fault injection: the mutation did not change {verilog}")
        verilog = case_dir / "rtl_mutated" / Path(verilog).name
        verilog.parent.mkdir(parents=True, exist_ok=True)
        verilog.write_text(mutated)
    check_ports(Path(verilog), top)
    stim = case_dir / "stimulus.npz"
    if not stim.exists():
        case = make_case(replace(cfg, n=man.n, m=man.m, k=man.k,
                                        activation=man.fixed.activation))
        write_stimulus(stim, case, man.fixed, cfg.lr_shift, learn_steps=cfg.learn_steps)
    if verilator_public is None:
        verilator_public = verilator_public_default()
    public = sim == "verilator" and verilator_public
    kwargs = dict(name=cfg.name + tag, sim=sim, verilog=Path(verilog).resolve(),
                  manifest=Path(manifest).resolve(), top=top, stimulus=stim,
                  checkpoint_every=cfg.checkpoint_every, wave_format=wave_format,
                  compare_float=cfg.compare_float, rerun_hint=rerun_with_waves,
                  extra_sources=extra, verilator_public=public)
    suffix = "-public" if public else ""  # the build depends on it: never share a folder
    res = _build_and_test(build_dir=case_dir / f"sim{suffix}", waves=waves, **kwargs)
    if not res.passed and not waves and rerun_with_waves:
        again = _build_and_test(build_dir=case_dir / f"sim_waves{suffix}", waves=True,
                                **kwargs)
        res.waves, res.gtkw = again.waves, again.gtkw
        res.extra["waves_rerun"] = {"passed": again.passed,
                                    "same_message": again.message == res.message}
        if res.waves:
            res.message += (
                f"\n  (failed without waveforms; reran with waves on: {res.waves}, "
                f"GTKWave save file {res.gtkw})"
            )
    (case_dir / "result.json").write_text(json.dumps(res.to_json(), indent=1))
    return res


def print_flush(*args: Any) -> None:
    print(*args, flush=True, file=sys.stderr)
