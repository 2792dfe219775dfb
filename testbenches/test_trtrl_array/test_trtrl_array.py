"""cocotb testbench of the TRTRL neuron array (``trtrl_array``), in verilog-axis style.

The :class:`TB` class wraps the DUT (clock, reset, memory port, sample stream); the
bit-accurate reference model :class:`pymodel.fixed.model.FixedTRTRL` runs beside it and
a :class:`testbenches.scoreboard.Scoreboard` compares ``r_y``/``r_e`` every step and
the weights, every sensitivity and the counters (read back through the memory port) at
checkpoints. The run is described by the JSON file named in ``TRTRL_TB_CONFIG``
(written by :mod:`testbenches.runner`); the result goes to the JSON file it names.

The pytest functions at the bottom build and run one configuration each on each
simulator (``pytest testbenches -k tiny``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

from trtrl.pymodel.fixed.words import pack, unpack
from trtrl.rtl.manifest import Manifest
from trtrl.testbenches.configs import CONFIGS, describe, random_configs
from trtrl.testbenches.funcov import FunctionalCoverage
from trtrl.testbenches.learning import check_learning, learning_figures
from trtrl.testbenches.pytest_support import record, tb_seed, waves_option
from trtrl.testbenches.runner import run_case
from trtrl.testbenches.scoreboard import (
    MISMATCH_TAG,
    XPROP_TAG,
    Fmt,
    Scoreboard,
    ScoreboardMismatch,
    StepTiming,
    expected_state,
    state_formats,
)

# The outputs that must hold 0/1 bits whenever the testbench samples them (after reset);
# m_rdata only while m_rvalid is high (testbenches/README.md, "X and Z").
RESOLVED_OUTPUTS = ("s_ready", "busy", "r_valid", "r_y", "r_e", "m_rvalid", "step_count",
                    "sat_count")


class TBError(AssertionError):
    """A protocol failure (timeout, X on an output): not a value mismatch."""


class TB:
    """The DUT with its clock, and the host operations of rtl/README.md."""

    def __init__(self, dut: Any, man: Manifest, clock_ns: float = 10.0) -> None:
        self.dut = dut
        self.man = man
        self.clock_ns = clock_ns
        self.a_bits = man.fixed.act.total
        self.rdata_bits = len(dut.m_rdata)
        self.step_timeout = 4 * (man.cycles_per_step or 5000) + 200
        self.phase = "reset"  # named in failure messages (set by the test as it goes)
        Clock(dut.clk, clock_ns, unit="ns", impl="gpi").start()

    # -- helpers ------------------------------------------------------------------
    def now_ns(self) -> float:
        return float(get_sim_time("ns"))

    def cycle(self) -> int:
        return int(round(self.now_ns() / self.clock_ns))

    def x_error(self, name: str, value: Any, what: str = "") -> TBError:
        """The failure for an X or Z bit on output ``name``: signal, step, time, cycle."""
        return TBError(
            f"{XPROP_TAG}: {name}{what} is {value} during {self.phase} at "
            f"t={self.now_ns():.0f} ns (cycle {self.cycle()}): an uninitialised register "
            f"or memory word reached an output"
        )

    def _int(self, name: str, signed: bool = False, what: str = "") -> int:
        value = getattr(self.dut, name).value
        if not value.is_resolvable:
            raise self.x_error(name, value, what)
        return value.to_signed() if signed else value.to_unsigned()

    def check_resolved(self, names: tuple[str, ...] = RESOLVED_OUTPUTS) -> None:
        """Fail on the first of ``names`` with an X or Z bit (call in ReadOnly)."""
        for name in names:
            value = getattr(self.dut, name).value
            if not value.is_resolvable:
                raise self.x_error(name, value)

    async def reset(self, cycles: int = 3) -> None:
        """Every input to 0, ``rst`` high for ``cycles`` edges, then clock until the clear
        sweep the reset starts is over (starts and ends writable, just after an edge)."""
        d = self.dut
        for name in ("s_valid", "learn", "clear", "m_we", "m_re"):
            getattr(d, name).value = 0
        for name in ("s_x", "s_d", "lr_shift", "m_addr", "m_wdata"):
            getattr(d, name).value = 0
        d.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(d.clk)
        d.rst.value = 0
        await self.wait_idle(self.man.clear_cycles + 100, "reset")

    async def wait_idle(self, timeout: int, what: str) -> None:
        """Clock until ``busy`` is low (ends just after an edge, writable).

        ``busy`` must be 0 or 1 on every edge after the reset edges, and every output
        resolved once the array is idle.
        """
        for _ in range(timeout):
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            self.check_resolved(("busy",))
            if self.dut.busy.value == 0:
                self.check_resolved()
                await RisingEdge(self.dut.clk)
                return
        raise TBError(f"{what}: busy still high after {timeout} cycles (t={self.now_ns():.0f} ns)")

    def addr(self, region: int, i: int, j: int) -> int:
        return (region << self.man.idx_bits) | (i * self.man.L + j)

    # -- memory port --------------------------------------------------------------
    async def write_weights(self, w: np.ndarray) -> None:
        """Back-to-back writes of every ``W[i, j]`` (region 0)."""
        d = self.dut
        mask = (1 << len(d.m_wdata)) - 1
        for i in range(self.man.n):
            for j in range(self.man.L):
                d.m_addr.value = self.addr(0, i, j)
                d.m_wdata.value = int(w[i, j]) & mask
                d.m_we.value = 1
                await RisingEdge(d.clk)
        d.m_we.value = 0
        await RisingEdge(d.clk)

    async def read_word(self, addr: int) -> int:
        """One read through the memory port."""
        return (await self.read_words([addr]))[0]

    async def read_words(self, addrs: list[int], labels: list[str] | None = None) -> list[int]:
        """Reads issued back to back, one per cycle (rtl/README.md); the answers in order.

        Read ``i`` is sampled at edge ``i``; its ``m_rvalid`` must come within
        ``read_latency + 8`` edges of that, and an ``m_rvalid`` with no read outstanding
        is a protocol error; ``m_rvalid`` must be 0 or 1 on every edge and ``m_rdata``
        resolved when it is 1 (``labels[i]`` names word ``i`` in that failure). Starts
        and ends writable, just after an edge.
        """
        d = self.dut
        limit = self.man.read_latency + 8
        n = len(addrs)
        out: list[int] = []
        if not n:
            return out
        d.m_addr.value = addrs[0]
        d.m_re.value = 1
        edge = 0  # edges seen; read i is sampled at edge i + 1 (counting from 1)
        while len(out) < n:
            await RisingEdge(d.clk)
            edge += 1
            issued = min(edge, n)
            if edge < n:
                d.m_addr.value = addrs[edge]
            elif edge == n:
                d.m_re.value = 0
            await ReadOnly()
            self.check_resolved(("m_rvalid",))
            if d.m_rvalid.value == 1:
                if len(out) >= issued:
                    raise TBError(f"m_rvalid with no read outstanding after {n} reads from "
                                  f"address {addrs[0]:#x} (t={self.now_ns():.0f} ns)")
                k = len(out)
                word = labels[k] if labels else f"address {addrs[k]:#x}"
                out.append(self._int("m_rdata", signed=True,
                                     what=f" (read-back of {word}, address {addrs[k]:#x})"))
            elif edge - (len(out) + 1) >= limit:
                raise TBError(f"memory read of address {addrs[len(out)]:#x}: no m_rvalid "
                              f"within {limit} cycles (t={self.now_ns():.0f} ns)")
        await RisingEdge(d.clk)  # leave the read-only phase before anyone drives
        return out

    async def read_region(self, region: int) -> np.ndarray:
        return (await self.read_regions([region]))[0]

    async def read_regions(self, regions: list[int]) -> list[np.ndarray]:
        """Every word of ``regions``, in one burst of back-to-back reads."""
        n, L = self.man.n, self.man.L
        addrs = [self.addr(r, i, j) for r in regions for i in range(n) for j in range(L)]
        labels = [f"{self.region_name(r)}[{i}, {j}]" for r in regions for i in range(n)
                  for j in range(L)]
        words = np.array(await self.read_words(addrs, labels), dtype=np.int64)
        return list(words.reshape(len(regions), n, L))

    def region_name(self, region: int) -> str:
        """The quantity a region holds (rtl/README.md's address map)."""
        k = self.man.k
        if region == 0:
            return "w"
        if region <= k:
            return f"p_out[{region - 1}]"
        return {k + 1: "p_ing", k + 2: "p_egr"}.get(region, f"region {region}")

    async def read_state(self) -> dict[str, np.ndarray]:
        """Weights, ``p_out``, ``p_ing``, ``p_egr`` and the counters, as the DUT holds them."""
        k = self.man.k
        w, *p_out, p_ing, p_egr = await self.read_regions(list(range(k + 3)))
        state = {"w": w, "p_out": np.stack(p_out), "p_ing": p_ing, "p_egr": p_egr}
        await ReadOnly()
        state["step_count"] = np.array(self._int("step_count"))
        state["sat_count"] = np.array(self._int("sat_count"))
        await RisingEdge(self.dut.clk)
        return state

    # -- sample stream ------------------------------------------------------------
    async def step(self, x_q: np.ndarray, d_q: np.ndarray, learn: bool,
                   lr_shift: int) -> tuple[list[int], list[int], StepTiming]:
        """Offer one sample, wait for the handshake and for ``r_valid``; return r_y, r_e."""
        start_ns, start_cycle = await self.start_step(x_q, d_q, learn, lr_shift)
        return await self.finish_step(start_ns, start_cycle)

    async def start_step(self, x_q: np.ndarray, d_q: np.ndarray, learn: bool,
                         lr_shift: int) -> tuple[float, int]:
        """Offer one sample and wait for its handshake; returns the handshake's time and
        cycle (ends just after that edge, writable, ``s_valid`` low again)."""
        d = self.dut
        d.s_x.value = pack(x_q, self.a_bits) if self.man.m else 0
        d.s_d.value = pack(d_q, self.a_bits)
        d.learn.value = int(learn)
        d.lr_shift.value = int(lr_shift)
        d.s_valid.value = 1
        for _ in range(self.step_timeout):
            await ReadOnly()  # s_ready as the DUT sees it at the coming edge
            self.check_resolved(("s_ready", "busy"))
            ready = d.s_ready.value == 1
            await RisingEdge(d.clk)
            if ready:
                break
        else:
            raise TBError(f"s_ready never rose within {self.step_timeout} cycles "
                          f"(t={self.now_ns():.0f} ns)")
        start_ns, start_cycle = self.now_ns(), self.cycle()
        d.s_valid.value = 0
        return start_ns, start_cycle

    async def finish_step(self, start_ns: float,
                          start_cycle: int) -> tuple[list[int], list[int], StepTiming]:
        """Wait for the ``r_valid`` of the step started at ``start_ns``; return r_y, r_e."""
        d = self.dut
        timeout = Timer(self.step_timeout * self.clock_ns, unit="ns")
        fired = await First(RisingEdge(d.r_valid), timeout)
        if fired is timeout:
            self.check_resolved(("r_valid", "busy"))  # an X there is the better message
            raise TBError(f"r_valid never rose within {self.step_timeout} cycles of the "
                          f"handshake at t={start_ns:.0f} ns (cycle {start_cycle})")
        await ReadOnly()
        end_ns, end_cycle = self.now_ns(), self.cycle()
        # every output at the step's result (the cycles in between run without Python)
        self.check_resolved()
        y = unpack(self._int("r_y"), self.man.n, self.a_bits)
        e = unpack(self._int("r_e"), self.man.k, self.a_bits)
        await RisingEdge(d.clk)  # leave the read-only phase before anyone drives
        return y, e, StepTiming(start_ns, end_ns, start_cycle, end_cycle)



@cocotb.test()
async def run_trtrl_array(dut: Any) -> None:
    """Load weights, stream every sample, score each step against FixedTRTRL."""
    from trtrl.pymodel.fixed.model import FixedTRTRL

    cfg = json.loads(Path(os.environ["TRTRL_TB_CONFIG"]).read_text())
    man = Manifest.read(Path(cfg["manifest"]))
    stim = np.load(cfg["stimulus"])
    x_q, d_q, w0_q = stim["x_q"], stim["d_q"], stim["w0_q"]
    lr_shift, learn = int(stim["lr_shift"]), bool(stim["learn"])
    steps = int(x_q.shape[0])
    # learning per step (older stimulus files hold one flag for the whole run)
    learn_steps = (np.asarray(stim["learn_steps"], dtype=bool) if "learn_steps" in stim.files
                   else np.full(steps, learn))
    lr_steps = (np.asarray(stim["lr_steps"], dtype=np.int64) if "lr_steps" in stim.files
                else np.full(steps, lr_shift))
    # the step during which rst is pulsed (-1: none; older stimulus files have none)
    reset_at = int(stim["reset_at"]) if "reset_at" in stim.files else -1
    every = int(cfg.get("checkpoint_every", 1))
    result_path = Path(cfg["result"])
    sb = Scoreboard(clock_ns=float(cfg.get("clock_ns", 10)), waves_hint=cfg.get("waves_hint", ""))
    fmt_a = Fmt(man.fixed.act.total, man.fixed.act.frac)
    fmts = state_formats(man)
    result: dict[str, Any] = {"test": cfg["name"], "sim": cfg["sim"], "steps": 0,
                              "passed": False, "message": ""}
    e_hw = np.zeros((steps, man.k), dtype=np.int64)
    cycles: list[int] = []
    stream_cpu = 0.0
    stream_s = 0.0  # wall time spent streaming samples (no read-back, no model)
    wall0 = time.perf_counter()
    tb = TB(dut, man, float(cfg.get("clock_ns", 10)))
    cov = FunctionalCoverage.for_design(man)

    def fresh_model() -> FixedTRTRL:
        """The reference model at the start of a run: the case's weights, no state."""
        fresh = FixedTRTRL(w0_q, man.m, man.k, man.fixed, lr_shift, learn=learn)
        fresh.observer = cov.clamp
        return fresh

    async def load(fresh: FixedTRTRL, first: int) -> None:
        """After a reset (whose clear sweep zeroes y, every sensitivity and the counters,
        not the weights): the case's weights loaded and, with checkpoints, the state read
        back before step ``first`` (the weights as loaded, every sensitivity zero)."""
        tb.phase = "the weight load" + (f" after the reset during step {first}" if first else "")
        await tb.write_weights(w0_q)
        if first == 0:
            # from here on no signal of the design may be X (test_xprop.py scans the dump)
            result["weights_loaded_ns"] = tb.now_ns()
        if every:
            tb.phase = f"the read-back before step {first}"
            sb.check_state(first - 1, expected_state(fresh, 0), await tb.read_state(), fmts)

    model = fresh_model()
    base = 0  # the step the model's run began at (the reset's, after one)
    try:
        await tb.reset()
        await load(model, 0)
        for t in range(steps):
            if t == reset_at:
                # the step starts, rst is pulsed for 2 cycles half-way through it (the
                # step's state in flight), the core is reloaded as at the start, and the
                # run goes on from this step's sample against a fresh model
                tb.phase = f"step {t}, before the reset during it"
                await tb.start_step(x_q[t], d_q[t], bool(learn_steps[t]), int(lr_steps[t]))
                await ClockCycles(dut.clk, max(1, (man.cycles_per_step or 2) // 2))
                tb.phase = f"the reset during step {t}"
                await tb.reset(cycles=2)
                model, base = fresh_model(), t
                await load(model, t)
            model.learn = bool(learn_steps[t])
            if lr_steps[t] != model.lr_shift:
                model.set_lr_shift(int(lr_steps[t]))
            cov.step(model.learn, model.lr_shift)
            exp_y, exp_e = model.step(x_q[t], d_q[t])
            t_in = time.perf_counter()
            c_in = time.process_time()
            tb.phase = f"step {t}"
            got_y, got_e, timing = await tb.step(x_q[t], d_q[t], bool(learn_steps[t]),
                                                 model.lr_shift)
            stream_s += time.perf_counter() - t_in
            stream_cpu += time.process_time() - c_in
            sb.note_timing(t, timing)
            cycles.append(timing.end_cycle - timing.start_cycle)
            e_hw[t] = got_e
            sb.check_outputs(t, exp_y, got_y, exp_e, got_e, fmt_a)
            result["steps"] = t + 1
            if t == steps - 1 or (every and (t + 1) % every == 0):
                tb.phase = f"the read-back after step {t}"
                sb.check_state(t, expected_state(model, t + 1 - base), await tb.read_state(),
                               fmts)
        result["passed"] = True
    except (ScoreboardMismatch, TBError) as exc:
        result["message"] = str(exc)
        raise
    finally:
        wall = time.perf_counter() - wall0
        result["funcov"] = cov.to_json()
        result.update(
            sim_wall_s=round(wall, 3),
            stream_wall_s=round(stream_s, 3),
            stream_cpu_s=round(stream_cpu, 3),
            stream_steps_per_s=round(result["steps"] / stream_s, 1) if stream_s else None,
            sim_cycles=tb.cycle(),
            cycles_per_step=(round(float(np.mean(cycles)), 3) if cycles else None),
            cycles_per_step_min=min(cycles) if cycles else None,
            cycles_per_step_max=max(cycles) if cycles else None,
            manifest_cycles_per_step=man.cycles_per_step,
            checked_values=sb.checked_values,
            checkpoints=sb.checkpoints,
            sat_count=int(model.sat_count),
            lr_shift=lr_shift,
            learn_steps=int(learn_steps.sum()),
            reset_at=reset_at if reset_at >= 0 else None,
        )
        # the float64 comparison only for a run that passed (it takes a while)
        result.update(learning_figures(e_hw, result["steps"], stim, man, lr_shift,
                                       bool(cfg.get("compare_float")) and result["passed"]))
        tmp = result_path.with_name(result_path.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=1))
        os.replace(tmp, result_path)


# -- pytest runners: one per configuration and simulator ------------------------------------
def _params() -> list[Any]:
    out = []
    for cfg in CONFIGS.values():
        for sim in cfg.sims:
            marks = [pytest.mark.slow] if cfg.slow else []
            out.append(pytest.param(cfg.name, sim, id=f"{cfg.name}-{sim}", marks=marks))
    return out


@pytest.mark.parametrize(("config", "sim"), _params())
def test_trtrl_array(config: str, sim: str, request: pytest.FixtureRequest) -> None:
    """Build the generated array for ``config`` and run the cocotb scoreboard on ``sim``."""
    waves = waves_option(request)
    res = run_case(CONFIGS[config], sim, waves=waves)
    record(request, res)
    assert res.passed, res.message
    assert res.steps == CONFIGS[config].steps
    if CONFIGS[config].compare_float:
        check_learning(res.extra)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``test_random_config``: 3 seeded draws on Icarus, 12 on both simulators with --full."""
    if "rand_cfg" not in metafunc.fixturenames:
        return
    full = bool(metafunc.config.getoption("--full", default=False))
    params = [pytest.param(cfg, sim, id=f"{cfg.name}-{sim}")
              for cfg in random_configs(tb_seed(metafunc.config), full) for sim in cfg.sims]
    metafunc.parametrize(("rand_cfg", "sim"), params)


def test_random_config(rand_cfg: Any, sim: str, request: pytest.FixtureRequest) -> None:
    """A configuration drawn from its seed (``rand-s<seed>``); a failure prints the rerun."""
    waves = waves_option(request)
    res = run_case(rand_cfg, sim, waves=waves)
    record(request, res)
    rerun = (f"rerun: .venv/bin/pytest testbenches -k '{rand_cfg.name}-{sim}' "
             f"--tb-seed {rand_cfg.seed}{' --full' if sim == 'verilator' else ''}  "
             f"(or TRTRL_TB_SEED={rand_cfg.seed})")
    assert res.passed, f"{rand_cfg.name} ({describe(rand_cfg)}) failed; {rerun}\n{res.message}"
    assert res.steps == rand_cfg.steps, f"{res.steps} of {rand_cfg.steps} steps; {rerun}"


__all__ = ["MISMATCH_TAG", "XPROP_TAG", "TB", "run_trtrl_array"]
