"""Simulation speed of the generated array before and after two Verilog/build changes.

``trtrl bench sim`` runs the scoreboarded cocotb stream (the frequency doubler, or the
random task unless M = K = 1; the model checks ``r_y``/``r_e`` every step, and the state
is read back at the end) four times on one machine, one after the other:

- Icarus on the array with its sign extensions written as replications
  (``sign_extension="concat"``, the earlier form) and as ``$signed`` assignments (the
  default);
- Verilator built with every signal public (cocotb's ``--public-flat-rw``) and with the
  ports only (the runner's default).

Speed is steps per second of CPU time while streaming (``stream_cpu_s`` of the run's
``result.json``: the simulator and the testbench share one process, and CPU time is less
disturbed by other jobs than wall time); build time is wall time. Every run must pass
bit for bit, or its figure is not reported as a speed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trtrl.pymodel.errors import TrtrlError
from trtrl.testbenches.configs import TbConfig
from trtrl.testbenches.dut import BUILD_ROOT, cached_rtl
from trtrl.testbenches.runner import run_case

# (simulator, variant, what it is): each simulator's "before" first, then its "after"
VARIANTS: tuple[tuple[str, str, str], ...] = (
    ("icarus", "concat", "sign extension {{k{x[msb]}}, x} (before)"),
    ("icarus", "signed", "sign extension $signed(x) (after)"),
    ("verilator", "public", "all signals public, --public-flat-rw (before)"),
    ("verilator", "ports", "ports only, a control file (after)"),
)


@dataclass
class BenchRow:
    """One run: simulator, variant, build time, steps, streaming CPU/wall time, speed."""

    sim: str
    variant: str
    label: str
    passed: bool
    steps: int
    build_s: float
    stream_cpu_s: float
    stream_wall_s: float
    steps_per_s: float  # steps / stream CPU seconds
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _verilog(n: int, m: int, k: int, form: str, root: Path) -> tuple[Path, Path]:
    """The array's Verilog and manifest with its sign extensions written as ``form``."""
    if form == "signed":  # the default form: the tests' cached copy
        return cached_rtl(TbConfig("bench", n=n, m=m, k=k, steps=1))
    from trtrl.rtl.config import ArrayConfig
    from trtrl.rtl.generate import generate

    cfg = ArrayConfig(n, m, k, TbConfig("bench", n=n, m=m, k=k, steps=1).fixed(),
                      sign_extension=form)
    vpath, mpath = generate(cfg, root / f"rtl_{form}_n{n}_m{m}_k{k}")
    return Path(vpath), Path(mpath)


def run_bench(n: int = 15, m: int = 1, k: int = 1, *, sims: tuple[str, ...] = ("icarus",
              "verilator"), icarus_steps: int = 40, verilator_steps: int = 1000,
              root: Path | None = None,
              progress: Callable[[str], None] | None = None) -> list[BenchRow]:
    """Run the variants of ``sims`` in order; one :class:`BenchRow` each."""
    root = Path(root) if root is not None else BUILD_ROOT / "bench-sim"
    root.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda text: None)
    todo = [v for v in VARIANTS if v[0] in sims]
    rows = []
    for idx, (sim, variant, label) in enumerate(todo, 1):
        steps = icarus_steps if sim == "icarus" else verilator_steps
        cfg = TbConfig(f"bench_n{n}", n=n, m=m, k=k, steps=steps,
                       task="freq" if m == 1 and k == 1 else "random", checkpoint_every=0,
                       sims=(sim,))
        form = variant if sim == "icarus" else "signed"
        say(f"[{idx}/{len(todo)}] {sim} {variant}: {'generate, ' if form == 'concat' else ''}"
            f"build and stream {steps} steps (N={n} M={m} K={k}) ...")
        verilog, manifest = _verilog(n, m, k, form, root)
        res = run_case(cfg, sim, waves=False, build_root=root, verilog=verilog,
                       manifest=manifest, tag=f"-{variant}", rerun_with_waves=False,
                       verilator_public=(variant == "public"))
        cpu = float(res.extra.get("stream_cpu_s") or 0.0)
        row = BenchRow(sim=sim, variant=variant, label=label, passed=res.passed,
                       steps=res.steps, build_s=res.build_s, stream_cpu_s=cpu,
                       stream_wall_s=float(res.extra.get("stream_wall_s") or 0.0),
                       steps_per_s=round(res.steps / cpu, 2) if cpu else 0.0,
                       message="" if res.passed else res.message.splitlines()[0])
        say(f"      {'ok' if row.passed else 'FAILED'}: build {row.build_s:.1f} s, "
            f"{row.steps} steps in {row.stream_cpu_s:.2f} s CPU")
        rows.append(row)
    return rows


def format_rows(rows: list[BenchRow], n: int, m: int, k: int) -> str:
    """The table: each "after" row with its speed-up over the "before" row of its sim."""
    head = (f"trtrl bench sim: N={n} M={m} K={k}, scoreboarded cocotb stream, one machine, "
            f"one run\n"
            f"{'simulator':<10} {'variant':<8} {'build s':>8} {'steps':>6} {'CPU s':>8} "
            f"{'steps/s':>9} {'speed-up':>9} {'build':>7}  what")
    lines = [head]
    before: dict[str, BenchRow] = {}
    for r in rows:
        speed = build = ""
        if r.sim in before and r.passed and before[r.sim].passed and before[r.sim].steps_per_s:
            b = before[r.sim]
            speed = f"{r.steps_per_s / b.steps_per_s:.2f}x"
            build = f"{r.build_s / b.build_s:.2f}x" if b.build_s else ""
        else:
            before.setdefault(r.sim, r)
        sps = f"{r.steps_per_s:.1f}" if r.passed else "FAILED"
        lines.append(f"{r.sim:<10} {r.variant:<8} {r.build_s:>8.1f} {r.steps:>6} "
                     f"{r.stream_cpu_s:>8.2f} {sps:>9} {speed:>9} {build:>7}  {r.label}")
        if not r.passed:
            lines.append(f"    {r.message}")
    return "\n".join(lines)


def check_passed(rows: list[BenchRow]) -> None:
    """A benchmark of a design that fails the scoreboard measures nothing: refuse it."""
    bad = [f"{r.sim} {r.variant}" for r in rows if not r.passed]
    if bad:
        raise TrtrlError(f"bench sim: {', '.join(bad)} failed the scoreboard "
                         f"(see the table above)")


def print_progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
