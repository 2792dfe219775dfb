"""Build and run one configuration on one simulator with cocotb's runner.

:func:`run_case` generates (or takes) the Verilog, writes the quantised stimulus, builds
it in a build folder of its own, runs the cocotb test
``testbenches.test_trtrl_array.test_trtrl_array`` and returns the per-test result (a JSON
file beside the build). A failing run without waveforms is run once more with waveforms
on, so a failure always leaves a dump to look at.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from trtrl.pymodel.errors import TrtrlError
from trtrl.rtl.config import AXI_TOP, TOP
from trtrl.rtl.manifest import Manifest
from trtrl.rtl.toolchain import parse_defines
from trtrl.testbenches.configs import SIMULATORS, TbConfig
from trtrl.testbenches.dut import BUILD_ROOT, REQUIRED_PORTS, cached_rtl, check_ports
from trtrl.testbenches.stimulus import learn_flags, make_case, write_stimulus

TB_MODULE = "trtrl.testbenches.test_trtrl_array.test_trtrl_array"
# The cocotb module that drives a DUT, by the interface its manifest's top names.
TB_MODULES = {TOP: TB_MODULE, AXI_TOP: "trtrl.testbenches.test_trtrl_axi.test_trtrl_axi"}
BATCHED_TB_MODULE = "trtrl.testbenches.test_trtrl_axi.batched_tb"
WAVE_FORMATS = ("vcd", "fst")
CLOCK_NS = 10
# A batched run this long also runs the same design and stimulus under the plain harness
# (no Python attached), so the summary sets the scoreboarded rate beside the simulator's
# own; shorter runs would time little but the start-up and the weight load.
PLAIN_MIN_STEPS = 50


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


def library_includes(sources: Sequence[Path]) -> list[str]:
    """The folders of ``sources``: a library's own `include`s sit beside it (Yosys's
    ecp5/common_sim.vh includes cells_ff.vh and cells_io.vh)."""
    return sorted({str(Path(s).parent) for s in sources})


# cocotb's Verilator runner always passes --public-flat-rw, which keeps every signal of the
# design reachable through VPI and stops Verilator from optimising them away: the model
# runs 4-5 times slower and builds longer. The testbench drives and reads ports only, so
# by default the runner drops the flag and makes just the top-level ports public (a
# control file); waveforms do not need it (--trace dumps internal signals anyway). A test
# that reads or pokes an internal signal through VPI asks for ``verilator_public=True``
# (or TRTRL_VERILATOR_PUBLIC=1 for every run).
PUBLIC_ENV = "TRTRL_VERILATOR_PUBLIC"
PORTS_VLT = "public_ports.vlt"


# Verilator code coverage (line and toggle) of every build while set: `trtrl regress
# --coverage` sets it, testbenches/coverage.py merges the coverage.dat files.
COVERAGE_ENV = "TRTRL_COVERAGE"


def coverage_enabled() -> bool:
    """Verilator builds with line and toggle coverage? ``TRTRL_COVERAGE``, else no."""
    return os.environ.get(COVERAGE_ENV, "") not in ("", "0")


def verilator_public_default() -> bool:
    """All signals public in Verilator builds? ``TRTRL_VERILATOR_PUBLIC``, else no."""
    return os.environ.get(PUBLIC_ENV, "") not in ("", "0")


def ports_control_file(path: Path, top: str, ports: Sequence[str]) -> Path:
    """A Verilator control file making exactly ``ports`` of module ``top`` public (rw)."""
    lines = ["`verilator_config", "// written by testbenches/runner.py: VPI sees the ports only"]
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
        from trtrl.rtl.toolchain import verilator_env

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


@dataclass(frozen=True)
class SimJob:
    """One design and stimulus on one simulator: what a build-and-test run needs."""

    name: str
    sim: str
    verilog: Path
    manifest: Path
    top: str
    stimulus: Path
    checkpoint_every: int
    wave_format: str
    compare_float: bool = False
    rerun_hint: bool = True  # say in a failure that the case is rerun with waves on
    extra_sources: tuple[Path, ...] = ()
    verilator_public: bool = False  # every signal reachable through VPI (Verilator only)
    interface: str = TOP  # the manifest's top: which testbench module drives it
    testcase: tuple[str, ...] = ()  # the cocotb tests to run (default: all of the module)
    seed: int = 1  # the testbench's own random draws (pause generators)
    harness: Path | None = None  # the HDL batch harness around the AXI top (batch.py)
    defines: tuple[str, ...] = ()  # Verilog macros, NAME or NAME=VALUE (`define)


def _build_and_test(job: SimJob, build_dir: Path, waves: bool,
                    extra_env: dict[str, str] | None = None) -> RunResult:
    """Build ``job`` in ``build_dir``, run the cocotb test, collect its verdict and rates."""
    from cocotb_tools.check_results import get_results

    name, sim, verilog, manifest, top = job.name, job.sim, job.verilog, job.manifest, job.top
    stimulus, wave_format, extra_sources = job.stimulus, job.wave_format, job.extra_sources

    build_dir.mkdir(parents=True, exist_ok=True)
    public = sim == "verilator" and job.verilator_public
    runner = _runner(sim, wave_format, public)
    control: list[Path] = []
    if job.harness is not None:  # the harness is the toplevel; the design sits below it
        from trtrl.testbenches.batch import BATCH_TOP, HARNESS_SIGNALS

        top, extra_sources = BATCH_TOP, (*extra_sources, job.harness)
    if sim == "verilator" and not public:
        ports = list(Manifest.read(manifest).ports) if job.interface != TOP else REQUIRED_PORTS
        if job.harness is not None:
            ports = [p for p in ports if p.startswith("s_axil_")] + list(HARNESS_SIGNALS)
        control = [ports_control_file(build_dir / PORTS_VLT, top, ports)]
    build_args: list[str] = []
    test_args: list[str] = []
    plusargs: list[str] = []
    dump = build_dir / f"dump.{wave_format}"
    if sim == "verilator":
        build_args += ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3"]
        if coverage_enabled():  # the model writes coverage.dat into the build folder
            build_args += ["--coverage-line", "--coverage-toggle"]
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
            defines={**library_defines(sim, extra_sources), **parse_defines(job.defines)},
            includes=library_includes(extra_sources),
            hdl_toplevel=top,
            build_dir=str(build_dir),
            build_args=build_args,
            waves=waves,
            timescale=("1ns", "1ps"),
            always=True,
            log_file=str(log),
        )
    except (SystemExit, Exception) as exc:  # the runner exits on tool errors
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        return RunResult(test=name, sim=sim, passed=False, build_dir=str(build_dir),
                         message=f"build failed ({exc!r}):\n{tail}")
    build_s = time.perf_counter() - t0
    result_json = build_dir / "result.json"
    for old in build_dir.glob("result*.json"):
        old.unlink()
    tb_cfg = {
        "name": name, "sim": sim, "manifest": str(manifest), "stimulus": str(stimulus),
        "checkpoint_every": job.checkpoint_every, "result": str(result_json),
        "clock_ns": CLOCK_NS, "waves": str(dump) if waves else None,
        "compare_float": job.compare_float, "seed": job.seed,
        "hdl_clock": job.harness is not None and sim != "verilator",
        "waves_hint": (f"dump {dump}" if waves else
                       "this run had waves off; the runner reruns a failing case with waves on"
                       if job.rerun_hint else "waves were off: rerun with --waves"),
    }
    cfg_path = build_dir / "tb_config.json"
    cfg_path.write_text(json.dumps(tb_cfg, indent=1))
    # The simulator's Python finds the testbench as the installed trtrl.testbenches.
    env = {"TRTRL_TB_CONFIG": str(cfg_path)}
    env.update(extra_env or {})
    results_xml = build_dir / "results.xml"
    t1 = time.perf_counter()
    with contextlib.suppress(SystemExit):  # the runner sys.exit()s on a failed test
        runner.test(
            test_module=(BATCHED_TB_MODULE if job.harness is not None
                         else TB_MODULES[job.interface]),
            testcase=list(job.testcase) or None,
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
    data = _results(build_dir, result_json)
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
        from trtrl.testbenches.waves import write_gtkw

        res.waves = str(dump)
        res.gtkw = str(write_gtkw(dump, manifest))
    (build_dir / "run.json").write_text(json.dumps(res.to_json(), indent=1))
    return res


def _results(build_dir: Path, result_json: Path) -> dict[str, Any]:
    """The testbench's verdict: ``result.json``, or one ``result.<test>.json`` per cocotb
    test merged (the first holds the steps and rates; every test must have passed)."""
    if result_json.exists():
        return json.loads(result_json.read_text())
    parts = [json.loads(p.read_text()) for p in sorted(build_dir.glob("result.*.json"))]
    if not parts:
        return {}
    first = next((p for p in parts if p.get("steps")), parts[0])
    failed = [p for p in parts if not p.get("passed")]
    from trtrl.testbenches.funcov import merge

    return {**first, "passed": not failed,
            "funcov": merge(p["funcov"] for p in parts if p.get("funcov")),
            "message": "\n".join(f"{p['cocotb_test']}: {p['message']}" for p in failed),
            "tests": {p["cocotb_test"]: {k: v for k, v in p.items() if k not in ("test", "sim")}
                      for p in parts}}


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
    testcase: Sequence[str] = (),
    batched: bool = False,
    plain: bool | None = None,
    defines: Sequence[str] = (),
) -> RunResult:
    """Build and simulate one configuration; returns its :class:`RunResult`.

    ``verilog``/``manifest`` run a given design (``trtrl regress --rtl``), else the
    design is generated. ``extra_sources`` are compiled after it (a cell library such as
    Yosys's ``ice40/cells_sim.v`` for an iCE40 netlist). ``mutate(text) -> text`` edits a
    copy of the design's Verilog, not the extra sources (fault injection). ``waves``
    defaults to the ``TRTRL_WAVES`` environment variable. ``verilator_public`` (default
    :func:`verilator_public_default`, i.e. no) builds Verilator with every signal
    reachable through VPI, for a test that reads internal signals; the build folders of
    such a run end in ``-public``, so the two builds never share one. ``batched`` runs
    the AXI top in the HDL batch harness; ``plain`` (default: runs of at least
    :data:`PLAIN_MIN_STEPS` steps) then also times the same design and stimulus under the
    plain harness (``extra["plain_steps_per_s"]``, ``extra["plain_ratio"]``). ``defines``
    are Verilog macros (``NAME`` or ``NAME=VALUE``) for every source.
    """
    parse_defines(defines)  # a bad name fails before anything is built
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
    man = Manifest.read(manifest)
    top = top or man.top
    if mutate is not None:
        text = Path(verilog).read_text()
        mutated = mutate(text)
        if mutated == text:
            raise TrtrlError(f"fault injection: the mutation did not change {verilog}")
        verilog = case_dir / "rtl_mutated" / Path(verilog).name
        verilog.parent.mkdir(parents=True, exist_ok=True)
        verilog.write_text(mutated)
    interface = man.interface
    check_ports(Path(verilog), top, interface)
    if cfg.lr_steps is not None and (interface != TOP or batched):
        raise TrtrlError(f"{cfg.name}: a learning-rate shift per step (lr_steps) is driven "
                         "by the core's testbench only")
    if cfg.reset_at is not None and (interface != TOP or batched):
        raise TrtrlError(f"{cfg.name}: a reset in the middle of a run (reset_at) is driven "
                         "by the core's testbench only")
    stim = case_dir / "stimulus.npz"
    if not stim.exists():
        case = make_case(replace(cfg, n=man.n, m=man.m, k=man.k,
                                        activation=man.fixed.activation))
        write_stimulus(stim, case, man.fixed, cfg.lr_shift, learn_steps=learn_flags(cfg),
                       lr_steps=cfg.lr_steps, reset_at=cfg.reset_at)
    harness = None
    if batched:
        if interface != AXI_TOP:
            raise TrtrlError(f"{verilog}: batched runs need the AXI top (trtrl_axi), "
                             f"not {interface}")
        from trtrl.testbenches.batch import write_batch_harness
        from trtrl.testbenches.test_trtrl_axi.batched_tb import MAX_BATCH

        depth = min(MAX_BATCH, max(1, cfg.checkpoint_every or cfg.steps), cfg.steps)
        harness = write_batch_harness(man, case_dir / f"trtrl_axi_batch-{sim}.v", depth,
                                      CLOCK_NS, hdl_clock=sim != "verilator")
    if verilator_public is None:
        verilator_public = verilator_public_default()
    public = sim == "verilator" and verilator_public
    job = SimJob(name=cfg.name + tag, sim=sim, verilog=Path(verilog).resolve(),
                 manifest=Path(manifest).resolve(), top=top, stimulus=stim,
                 checkpoint_every=cfg.checkpoint_every, wave_format=wave_format,
                 compare_float=cfg.compare_float, rerun_hint=rerun_with_waves,
                 extra_sources=tuple(extra), verilator_public=public, interface=interface,
                 testcase=tuple(testcase), seed=cfg.seed, harness=harness,
                 defines=tuple(defines))
    suffix = "-public" if public else ""  # the build depends on it: never share a folder
    res = _build_and_test(job, case_dir / f"sim{suffix}", waves)
    if not res.passed and not waves and rerun_with_waves:
        again = _build_and_test(job, case_dir / f"sim_waves{suffix}", True)
        res.waves, res.gtkw = again.waves, again.gtkw
        res.extra["waves_rerun"] = {"passed": again.passed,
                                    "same_message": again.message == res.message}
        if res.waves:
            res.message += (
                f"\n  (failed without waveforms; reran with waves on: {res.waves}, "
                f"GTKWave save file {res.gtkw})"
            )
    if plain is None:
        plain = cfg.steps >= PLAIN_MIN_STEPS and not extra and mutate is None
    if batched and plain and res.passed:
        _plain_rate(res, job, case_dir / f"plain-{sim}")
    (case_dir / "result.json").write_text(json.dumps(res.to_json(), indent=1))
    return res


def _plain_rate(res: RunResult, job: SimJob, work: Path) -> None:
    """Add the plain harness's steps/s (and the scoreboarded rate's share of it) to ``res``;
    the plain run checks every result's framing in HDL, so its failure fails ``res``."""
    from trtrl.testbenches.batch import plain_rate

    try:
        rate = plain_rate(job.manifest, job.verilog, job.stimulus, job.sim, work)
    except TrtrlError as exc:
        res.passed = False
        res.message = f"the plain harness (no testbench process) failed: {exc}"
        return
    scored = res.extra.get("stream_steps_per_s")
    res.extra["plain_steps_per_s"] = round(rate, 1)
    res.extra["plain_ratio"] = round(scored / rate, 3) if scored else None


def print_flush(*args: Any) -> None:
    print(*args, flush=True, file=sys.stderr)
