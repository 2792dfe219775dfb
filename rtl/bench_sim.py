"""Simulation speed of the generated array in a plain Verilog testbench (no cocotb).

``python -m rtl.bench_sim -n 15 -m 1 -k 1`` generates the array (or takes ``--rtl``),
writes a testbench that resets it, loads random weights through the memory port and
then holds ``s_valid`` high with new random samples after every step (learning on), and
runs it under Icarus (``vvp``) and/or Verilator (``--binary --timing``). Each simulator
runs twice, for 0 and for ``--cycles`` learning cycles; the difference of the child
process CPU times (user + system, so other jobs on the machine matter less than for wall
time) gives the cycles per second of the learning loop alone, without start-up, reset or
weight loading. The last line of a run (``BENCH steps=.. sat=.. r_e=..``) identifies the
stimulus: the same for two designs on one simulator, not across simulators (``$random``).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rtl.config import MANIFEST_FILE, TOP, ArrayConfig
from rtl.toolchain import verilator_env

__all__ = ["testbench", "run_icarus", "run_verilator", "bench", "main"]

TB_TOP = "bench_tb"


def testbench(man: dict) -> str:
    """A Verilog testbench (no checks: a load) for the array described by manifest ``man``."""
    p = man["ports"]
    n, big_l = man["neurons"], man["columns"]
    a_bits = int(man["fixed"]["act"].split(".")[0])  # format "total.frac"
    return f"""`timescale 1ns/1ps
module {TB_TOP};
  parameter NCYC = 1000;
  reg clk = 0;
  reg rst, s_valid, learn, clear, m_we, m_re;
  reg [{p["s_x"] - 1}:0] s_x;
  reg [{p["s_d"] - 1}:0] s_d;
  reg [{p["lr_shift"] - 1}:0] lr_shift;
  reg [{p["m_addr"] - 1}:0] m_addr;
  reg [{p["m_wdata"] - 1}:0] m_wdata;
  wire s_ready, r_valid, busy, m_rvalid;
  wire [{p["r_y"] - 1}:0] r_y;
  wire [{p["r_e"] - 1}:0] r_e;
  wire [{p["m_rdata"] - 1}:0] m_rdata;
  wire [31:0] step_count, sat_count;
  {TOP} dut(.clk(clk), .rst(rst), .s_valid(s_valid), .s_ready(s_ready), .s_x(s_x),
    .s_d(s_d), .r_valid(r_valid), .r_y(r_y), .r_e(r_e), .learn(learn),
    .lr_shift(lr_shift), .clear(clear), .busy(busy), .m_addr(m_addr), .m_wdata(m_wdata),
    .m_we(m_we), .m_re(m_re), .m_rdata(m_rdata), .m_rvalid(m_rvalid),
    .step_count(step_count), .sat_count(sat_count));
  always #5 clk = ~clk;
  integer c, i, j, seed;
  initial begin
    seed = 1;
    // Inputs leave X after time 0: the converted combinational blocks wait on their
    // inputs changing and would otherwise never see a constant address, say.
    #1 rst = 1; s_valid = 0; learn = 1; clear = 0; m_we = 0; m_re = 0;
    s_x = 0; s_d = 0; lr_shift = 4; m_addr = 0; m_wdata = 0;
    // Inputs change on the falling edge (blocking assignments: race-free in both
    // simulators; Verilator runs a non-blocking assignment of an initial block as blocking).
    repeat (3) @(negedge clk);
    rst = 0;
    @(negedge clk);
    while (busy) @(negedge clk);
    for (i = 0; i < {n}; i = i + 1)
      for (j = 0; j < {big_l}; j = j + 1) begin
        m_addr = i * {big_l} + j;  // region 0: W[i, j]
        m_wdata = $random(seed) % 4000;
        m_we = 1;
        @(negedge clk);
      end
    m_we = 0;
    s_valid = 1;
    for (c = 0; c < NCYC; c = c + 1) begin
      @(negedge clk);
      if (r_valid) begin
        s_x = $random(seed);
        s_d = $random(seed) % {1 << (a_bits - 2)};
      end
    end
    $display("BENCH steps=%0d sat=%0d r_e=%h", step_count, sat_count, r_e);
    $finish;
  end
endmodule
"""


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(cmd: list[str], cwd: Path) -> str:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({r.returncode}):\n{(r.stdout + r.stderr)[-3000:]}")
    return r.stdout


def _timed(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """Run ``cmd``; return (child CPU seconds, wall seconds, its BENCH line)."""
    c0, w0 = _child_cpu(), time.perf_counter()
    out = _run(cmd, cwd)
    cpu, wall = _child_cpu() - c0, time.perf_counter() - w0
    lines = [ln for ln in out.splitlines() if ln.startswith("BENCH")]
    if not lines:
        raise RuntimeError(f"{cmd[0]}: no BENCH line in its output:\n{out[-2000:]}")
    return cpu, wall, lines[0]


def run_icarus(vpath: Path, tb: Path, work: Path, cycles: int) -> dict[int, tuple]:
    """(CPU s, wall s, BENCH line) of ``vvp`` for 0 and ``cycles`` learning cycles."""
    out = {}
    for ncyc in (0, cycles):
        exe = work / f"icarus_{ncyc}.vvp"
        _run(["iverilog", "-g2005", "-s", TB_TOP, f"-P{TB_TOP}.NCYC={ncyc}", "-o", str(exe),
              str(tb), str(vpath)], work)  # fmt: skip
        out[ncyc] = _timed(["vvp", "-n", str(exe)], work)
    return out


def run_verilator(vpath: Path, tb: Path, work: Path, cycles: int) -> dict[int, tuple]:
    """(CPU s, wall s, BENCH line) of the Verilator binary for 0 and ``cycles`` cycles."""
    verilator_env()
    out = {}
    for ncyc in (0, cycles):
        mdir = work / f"obj_{ncyc}"
        # (the wheel's build flags lack the C++20 coroutines that --timing needs)
        _run(["verilator", "--binary", "--timing", "-O3", "-Wno-fatal", "-Wno-lint",
              "-Wno-style", "-CFLAGS", "-std=c++20 -fcoroutines", "--top-module", TB_TOP,
              f"-GNCYC={ncyc}", "--Mdir", str(mdir), "-o", "bench", str(tb), str(vpath)],
             work)  # fmt: skip
        out[ncyc] = _timed([str(mdir / "bench")], work)
    return out


def bench(vpath: Path, man: dict, sims: list[str], cycles: int, work: Path) -> list[dict]:
    """Cycles and steps per second of each simulator on the Verilog at ``vpath``."""
    tb = work / "bench_tb.v"
    tb.write_text(testbench(man))
    rows = []
    for sim in sims:
        runner = run_icarus if sim == "icarus" else run_verilator
        t = runner(vpath, tb, work, cycles)
        cpu = t[cycles][0] - t[0][0]
        wall = t[cycles][1] - t[0][1]
        if cpu < 0.05:
            raise RuntimeError(f"{sim}: {cycles} cycles took {cpu:.3f} s CPU: raise --cycles")
        cps = cycles / cpu
        rows.append({
            "sim": sim, "neurons": man["neurons"], "cycles": cycles,
            "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
            "cycles_per_s": round(cps, 1),
            "steps_per_s": round(cps / man["cycles_per_step"], 2),
            "result": t[cycles][2],
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command line: print cycles/s and steps/s of each simulator (or the rows as JSON)."""
    ap = argparse.ArgumentParser(prog="python -m rtl.bench_sim", description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--neurons", type=int, default=15)
    ap.add_argument("-m", "--inputs", type=int, default=1)
    ap.add_argument("-k", "--outputs", type=int, default=1)
    ap.add_argument("--rtl", type=Path, help="an existing trtrl_array.v (manifest beside it)")
    ap.add_argument("--sim", choices=["icarus", "verilator", "both"], default="icarus")
    ap.add_argument(
        "--cycles",
        type=int,
        default=3000,
        help="learning cycles timed (Verilator needs ~500000 to be measurable)",
    )
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args(argv)
    sims = ["icarus", "verilator"] if args.sim == "both" else [args.sim]
    work = Path(tempfile.mkdtemp(prefix="trtrl_bench_"))
    try:
        if args.rtl:
            vpath = args.rtl.resolve()
            man = json.loads((vpath.parent / MANIFEST_FILE).read_text())
        else:
            from rtl.generate import generate

            cfg = ArrayConfig(args.neurons, args.inputs, args.outputs)
            vpath, mpath = generate(cfg, work / "rtl")
            man = json.loads(mpath.read_text())
        rows = bench(vpath, man, sims, args.cycles, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            print(
                f"{r['sim']:9s} N={r['neurons']:<3d} {r['cycles_per_s']:10.1f} cycles/s "
                f"{r['steps_per_s']:8.2f} steps/s  ({r['cycles']} cycles, {r['cpu_s']} s CPU, "
                f"{r['wall_s']} s wall; {r['result']})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
