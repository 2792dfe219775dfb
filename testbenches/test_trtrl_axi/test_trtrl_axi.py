"""cocotb testbench of ``trtrl_axi``, the array in its AXI shell, on cocotbext-axi.

The samples go in through an ``AxiStreamSource`` (idle cycles from a seeded pause
generator), the results come out through an ``AxiStreamSink`` (random backpressure) and
everything else goes through an ``AxiLiteMaster``, at the addresses of the register map
the manifest carries (never written here). The scoreboard is the array's: every output
of every step, and every weight and sensitivity at checkpoints, bit for bit against the
fixed-point model (:class:`trtrl.pymodel.fixed.model.FixedTRTRL`).

The cocotb tests (the runner picks them by name, see :data:`TESTS`):

- ``learn_through_axi``: the case's steps streamed with backpressure; the scoreboard.
- ``long_stalls``: the result stream stalled for long random stretches; no result is
  lost or sent twice (the model, ``STEP_COUNT``, ``RESULT_COUNT`` and the packets
  received agree), and every stalled beat is held stable.
- ``register_errors``: identification registers against the manifest; an unmapped
  address, a read-only register and window, a partial strobe, an unaligned address and
  an out-of-range weight all get their error response and change nothing.
- ``reset_and_framing``: a soft reset in the middle of a step, a packet with an early
  ``TLAST``; afterwards the array runs on from its reloaded weights exactly as the model;
  the same after a clear, and after ARESETN in the middle of a step.
- ``every_lr_shift``: one learning step at each learning-rate shift.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time, get_time_from_sim_steps
from cocotbext.axi import (
    AxiLiteBus,
    AxiLiteMaster,
    AxiStreamBus,
    AxiStreamFrame,
    AxiStreamSink,
    AxiStreamSource,
)

from trtrl.pymodel.fixed.formats import FixedFormat
from trtrl.pymodel.fixed.words import to_signed
from trtrl.rtl.config import AXI_TOP
from trtrl.rtl.manifest import Manifest
from trtrl.rtl.regmap import RESP, RegisterMap, access_error
from trtrl.testbenches.configs import CONFIGS, TbConfig, describe, random_configs
from trtrl.testbenches.funcov import LR_SHIFTS, FunctionalCoverage, access_bin, error_bin
from trtrl.testbenches.learning import check_learning
from trtrl.testbenches.pytest_support import record, tb_seed, waves_option
from trtrl.testbenches.scoreboard import (
    Fmt,
    Scoreboard,
    ScoreboardMismatch,
    StepTiming,
    expected_state,
    state_formats,
)

TESTS = ("learn_through_axi", "long_stalls", "register_errors", "reset_and_framing",
         "every_lr_shift")


class TBError(AssertionError):
    """The DUT broke the protocol (no scoreboard comparison involved)."""


def pauses(rng: random.Random, p: float, longest: int = 1) -> Iterator[bool]:
    """A pause generator: pause runs of 1..``longest`` cycles starting with probability p."""
    while True:
        if rng.random() < p:
            for _ in range(rng.randint(1, longest)):
                yield True
        else:
            yield False


# functional coverage bin of an AXI4-Lite response (EXOKAY, 1, never comes from this slave)
_RESP_BIN = {("read", RESP["OKAY"]): "AXI4-Lite read OKAY",
             ("write", RESP["OKAY"]): "AXI4-Lite write OKAY",
             **{(k, RESP["SLVERR"]): "AXI4-Lite SLVERR" for k in ("read", "write")},
             **{(k, RESP["DECERR"]): "AXI4-Lite DECERR" for k in ("read", "write")}}


class AxiTB:
    """The AXI top with its three verification IPs, addressed through the register map."""

    def __init__(self, dut: Any, man: Manifest, clock_ns: float = 10.0, seed: int = 1,
                 streams: bool = True) -> None:
        """``streams=False``: a harness that clocks and streams by itself
        (:mod:`trtrl.testbenches.batch`); only the AXI4-Lite master is attached."""
        self.dut, self.man, self.clock_ns = dut, man, clock_ns
        self.rmap = RegisterMap.from_json(man.details["registers"])
        self.tw = int(man.details["streams"]["tdata_bits"])
        self.a_bits = man.fixed.act.total
        self.rng = random.Random(seed)
        if streams:
            cocotb.start_soon(Clock(dut.aclk, clock_ns, unit="ns").start())
            self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.aclk,
                                          dut.aresetn, reset_active_level=False,
                                          byte_size=self.tw)
            self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.aclk,
                                      dut.aresetn, reset_active_level=False,
                                      byte_size=self.tw)
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.aclk,
                                  dut.aresetn, reset_active_level=False)
        self.word_mask = (1 << self.tw) - 1
        self.funcov: FunctionalCoverage | None = None  # the run's, once _setup attaches it

    def cover(self, name: str, group: str = "interface") -> None:
        """A hit of bin ``name`` of ``group`` of the run's functional coverage."""
        if self.funcov is not None:
            self.funcov.hit(group, name)

    def cover_access(self, op: str, addr: int, resp: int) -> None:
        """The coverage of one access: its response, and the register or window an OKAY
        one read or wrote."""
        self.cover(_RESP_BIN[op, resp])
        name = self.rmap.name_at(addr)
        if resp == RESP["OKAY"] and name is not None:
            self.cover(access_bin(op, name), "registers")

    def cover_error(self, op: str, kind: str) -> None:
        """An illegal access of ``kind`` (rtl/regmap.py's ERRORS) got its response."""
        self.cover(error_bin(op, kind), "registers")

    def now_ns(self) -> float:
        return float(get_sim_time("ns"))

    async def reset(self) -> None:
        self.dut.aresetn.value = 0
        await ClockCycles(self.dut.aclk, 4)
        self.dut.aresetn.value = 1
        await ClockCycles(self.dut.aclk, 2)
        await self.wait_idle("reset")

    # -- registers --------------------------------------------------------------------------
    async def read_at(self, addr: int, nbytes: int = 4) -> tuple[int, int]:
        """(word, RRESP) of one read of ``nbytes`` bytes at ``addr``."""
        r = await self.axil.read(addr, nbytes)
        self.cover_access("read", addr, int(r.resp))
        return int.from_bytes(bytes(r.data), "little"), int(r.resp)

    async def write_at(self, addr: int, value: int, nbytes: int = 4) -> int:
        """BRESP of one write of the low ``nbytes`` bytes of ``value`` at ``addr``."""
        r = await self.axil.write(addr, (value & 0xFFFF_FFFF).to_bytes(4, "little")[:nbytes])
        self.cover_access("write", addr, int(r.resp))
        return int(r.resp)

    async def read(self, name: str) -> int:
        word, resp = await self.read_at(self.rmap.offset(name))
        if resp != RESP["OKAY"]:
            raise TBError(f"read of {name}: response {resp}, expected OKAY")
        return word

    async def write(self, name: str, **fields: int) -> None:
        resp = await self.write_at(self.rmap.offset(name), self.rmap.encode(name, **fields))
        if resp != RESP["OKAY"]:
            raise TBError(f"write of {name}: response {resp}, expected OKAY")

    async def wait_idle(self, what: str, timeout: int | None = None) -> None:
        """Poll STATUS until the core is idle and no sample or result is pending."""
        limit = timeout or 50 * (self.man.cycles_per_step + self.man.clear_cycles) + 1000
        t0 = self.now_ns()
        while True:
            st = self.rmap.decode("STATUS", await self.read("STATUS"))
            if not any(st.values()):
                return
            if self.now_ns() - t0 > limit * self.clock_ns:
                raise TBError(f"{what}: STATUS {st} still busy after {limit} cycles")

    # -- memories -----------------------------------------------------------------------------
    def mem_addr(self, region: int, i: int, j: int) -> int:
        return self.rmap.mem_base + 4 * ((region << self.rmap.idx_bits) | (i * self.man.L + j))

    def where(self, addr: int) -> str:
        """A memory address as ``region r [i, j]``, a register by name, else in hex."""
        for reg in self.rmap.registers:
            if self.rmap.offset(reg.name) == addr:
                return reg.name
        if addr >= self.rmap.mem_base:
            word = (addr - self.rmap.mem_base) // 4
            region, idx = word >> self.rmap.idx_bits, word & ((1 << self.rmap.idx_bits) - 1)
            return f"region {region} [{idx // self.man.L}, {idx % self.man.L}]"
        return f"{addr:#x}"

    async def read_many(self, addrs: list[int]) -> list[int]:
        """The words at ``addrs``, one read each; anything but OKAY is a protocol error."""
        out = []
        for a in addrs:
            word, resp = await self.read_at(a)
            if resp != RESP["OKAY"]:
                raise TBError(f"read of {self.where(a)}: response {resp}")
            out.append(word)
        return out

    async def write_many(self, ops: list[tuple[int, int]]) -> None:
        """``(address, word)`` writes in order; anything but OKAY is a protocol error."""
        for a, v in ops:
            resp = await self.write_at(a, v)
            if resp != RESP["OKAY"]:
                raise TBError(f"write of {self.where(a)}: response {resp}")

    async def write_weights(self, w: np.ndarray) -> None:
        await self.write_many([(self.mem_addr(0, i, j), int(w[i, j]))
                               for i in range(self.man.n) for j in range(self.man.L)])

    def state_addresses(self) -> list[int]:
        """Every word of the state: K + 3 regions of N x L, then STEP_COUNT and SAT_COUNT."""
        n, L, k = self.man.n, self.man.L, self.man.k
        return ([self.mem_addr(r, i, j) for r in range(k + 3) for i in range(n)
                 for j in range(L)] + [self.rmap.offset("STEP_COUNT"),
                                       self.rmap.offset("SAT_COUNT")])

    async def read_state(self) -> dict[str, np.ndarray]:
        n, L, k = self.man.n, self.man.L, self.man.k
        words = await self.read_many(self.state_addresses())
        regions = np.array([to_signed(v, 32) for v in words[:-2]],
                           dtype=np.int64).reshape(k + 3, n, L)
        return {"w": regions[0], "p_out": regions[1:k + 1], "p_ing": regions[k + 1],
                "p_egr": regions[k + 2], "step_count": np.array(words[-2]),
                "sat_count": np.array(words[-1])}

    # -- streams ------------------------------------------------------------------------------
    def sample_frame(self, x_q: np.ndarray, d_q: np.ndarray, learn: bool) -> AxiStreamFrame:
        words = [int(v) & self.word_mask for v in (*x_q, *d_q)]
        return AxiStreamFrame(tdata=words, tuser=int(learn))

    def unpack_result(self, frame: AxiStreamFrame) -> tuple[list[int], list[int]]:
        words = [to_signed(int(v), self.tw) for v in frame.tdata]
        n, k = self.man.n, self.man.k
        if len(words) != n + k:
            raise TBError(f"result packet of {len(words)} beats, expected N+K = {n + k}")
        return words[:n], words[n:]

    async def recv(self, what: str, cycles: int) -> AxiStreamFrame:
        timeout = Timer(cycles * self.clock_ns, unit="ns")
        task = cocotb.start_soon(self.sink.recv())
        fired = await First(task, timeout)
        if fired is timeout:
            task.cancel()
            raise TBError(f"{what}: no result packet within {cycles} cycles "
                          f"(t={self.now_ns():.0f} ns)")
        return task.result()

    def timing(self, frame: AxiStreamFrame) -> StepTiming:
        """When a result packet's first and last beats were taken (sink timestamps)."""
        start = float(get_time_from_sim_steps(frame.sim_time_start or 0, "ns"))
        end = float(get_time_from_sim_steps(frame.sim_time_end or 0, "ns"))
        return StepTiming(start, end, round(start / self.clock_ns), round(end / self.clock_ns))




class _Run:
    """What one cocotb test reads (the runner's config and stimulus) and writes (result)."""

    def __init__(self, test: str) -> None:
        from trtrl.pymodel.fixed.model import FixedTRTRL

        self.cfg = json.loads(Path(os.environ["TRTRL_TB_CONFIG"]).read_text())
        self.man = Manifest.read(Path(self.cfg["manifest"]))
        stim = np.load(self.cfg["stimulus"])
        self.x_q, self.d_q, self.w0_q = stim["x_q"], stim["d_q"], stim["w0_q"]
        self.lr_shift = int(stim["lr_shift"])
        self.steps = int(self.x_q.shape[0])
        self.learn_steps = (np.asarray(stim["learn_steps"], dtype=bool)
                            if "learn_steps" in stim.files
                            else np.full(self.steps, bool(stim["learn"])))
        self.clock_ns = float(self.cfg.get("clock_ns", 10))
        self.seed = int(self.cfg.get("seed", 1))
        self.sb = Scoreboard(clock_ns=self.clock_ns, waves_hint=self.cfg.get("waves_hint", ""))
        self.fmt_a = Fmt(self.man.fixed.act.total, self.man.fixed.act.frac)
        self.result: dict[str, Any] = {"test": self.cfg["name"], "sim": self.cfg["sim"],
                                       "cocotb_test": test, "steps": 0, "passed": False,
                                       "message": ""}
        self.model_cls = FixedTRTRL
        self.funcov = FunctionalCoverage.for_design(self.man)
        self.t0 = time.perf_counter()
        # cycles from one result packet's last beat to the next one's, within the
        # stretches of steps streamed back to back (no read-back in between)
        self.result_gaps: list[int] = []

    def cycles_per_step(self) -> float | None:
        """The mean of :attr:`result_gaps`: a throughput, the test's idle cycles and
        backpressure included (the core's own count is the manifest's)."""
        gaps = self.result_gaps
        return round(sum(gaps) / len(gaps), 3) if gaps else None

    def model(self) -> Any:
        """The reference model, its clamps shown to this run's functional coverage."""
        model = self.model_cls(self.w0_q, self.man.m, self.man.k, self.man.fixed,
                               self.lr_shift, learn=bool(self.learn_steps.any()))
        model.observer = self.funcov.clamp
        return model

    def learn(self, model: Any, t: int) -> None:
        """Step ``t``'s learn flag into the model and the coverage."""
        model.learn = bool(self.learn_steps[t])
        self.funcov.step(model.learn, self.lr_shift)

    def finish(self, passed: bool, message: str = "", **more: Any) -> None:
        self.result.update(passed=passed, message=message, **more,
                           funcov=self.funcov.to_json(),
                           sim_wall_s=round(time.perf_counter() - self.t0, 3),
                           sim_cycles=round(float(get_sim_time("ns")) / self.clock_ns),
                           checked_values=self.sb.checked_values,
                           checkpoints=self.sb.checkpoints)
        path = Path(self.cfg["result"])
        # one result file per cocotb test; the runner merges them
        path = path.with_name(f"{path.stem}.{self.result['cocotb_test']}{path.suffix}")
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.result, indent=1))
        os.replace(tmp, path)


async def _setup(dut: Any, run: _Run, p_idle: float, p_stall: float,
                 longest: int = 1) -> AxiTB:
    tb = AxiTB(dut, run.man, run.clock_ns, run.seed)
    tb.funcov = run.funcov
    tb.source.set_pause_generator(pauses(random.Random(run.seed * 2 + 1), p_idle))
    tb.sink.set_pause_generator(pauses(random.Random(run.seed * 2 + 2), p_stall, longest))
    if p_idle > 0:
        tb.cover("sample stream idle cycles")
    if p_stall > 0:
        tb.cover("result stream backpressure")
    await tb.reset()
    await _load(tb, run)
    # from here on no signal of the design may be X (test_xprop_axi.py scans the dump)
    run.result["weights_loaded_ns"] = tb.now_ns()
    return tb


async def _load(tb: AxiTB, run: _Run) -> None:
    """The case's first weights and CONTROL (each step's learn flag from TUSER)."""
    await tb.write_weights(run.w0_q)
    await tb.write("CONTROL", LEARN=0, LEARN_FROM_TUSER=1, LR_SHIFT=run.lr_shift)


async def _start_a_step(tb: AxiTB, run: _Run) -> None:
    """Send the first sample and return once the core is busy with its step."""
    await tb.source.send(tb.sample_frame(run.x_q[0], run.d_q[0], True))
    for _ in range(20 * run.man.cycles_per_step):
        await RisingEdge(tb.dut.aclk)
        if tb.rmap.decode("STATUS", await tb.read("STATUS"))["BUSY"]:
            return
    raise TBError("the core never became busy after a sample")


async def _stream(run: _Run, tb: AxiTB, model: Any, first: int, last: int,
                  step_cycles: int) -> None:
    """Steps ``first .. last - 1``: queue every sample, then score each result in order."""
    expected = []
    for t in range(first, last):
        run.learn(model, t)
        expected.append(model.step(run.x_q[t], run.d_q[t]))
        await tb.source.send(tb.sample_frame(run.x_q[t], run.d_q[t], run.learn_steps[t]))
    prev = None
    for t, (exp_y, exp_e) in zip(range(first, last), expected, strict=True):
        frame = await tb.recv(f"step {t}", step_cycles)
        timing = tb.timing(frame)
        run.sb.note_timing(t, timing)
        if prev is not None:
            run.result_gaps.append(timing.end_cycle - prev)
        prev = timing.end_cycle
        got_y, got_e = tb.unpack_result(frame)
        run.sb.check_outputs(t, exp_y, got_y, exp_e, got_e, run.fmt_a)
        run.result["steps"] = t + 1


async def _guarded(run: _Run, body: Any) -> None:
    try:
        more = await body()
        run.finish(True, **(more or {}))
    except (ScoreboardMismatch, TBError) as exc:
        run.finish(False, str(exc))
        raise


@cocotb.test()
async def learn_through_axi(dut: Any) -> None:
    """The case streamed through the shell with idle cycles and backpressure, scored."""
    run = _Run("learn_through_axi")

    async def body() -> dict[str, Any]:
        tb = await _setup(dut, run, p_idle=0.2, p_stall=0.3)
        model = run.model()
        every = int(run.cfg.get("checkpoint_every", 1)) or run.steps
        fmts = state_formats(run.man)
        run.sb.check_state(-1, expected_state(model, 0), await tb.read_state(), fmts)
        wall = time.perf_counter()
        budget = 20 * (run.man.cycles_per_step + run.man.n + run.man.k) + 200
        for first in range(0, run.steps, every):
            last = min(run.steps, first + every)
            await _stream(run, tb, model, first, last, budget)
            await tb.wait_idle(f"after step {last - 1}")
            run.sb.check_state(last - 1, expected_state(model, last), await tb.read_state(),
                               fmts)
        stream_s = time.perf_counter() - wall
        return {"cycles_per_step": run.cycles_per_step(),
                "manifest_cycles_per_step": run.man.cycles_per_step,
                "stream_wall_s": round(stream_s, 3),
                "stream_steps_per_s": round(run.steps / stream_s, 1) if stream_s else None,
                "sat_count": int(model.sat_count), "lr_shift": run.lr_shift,
                "result_count": await tb.read("RESULT_COUNT")}

    await _guarded(run, body)


@cocotb.test()
async def long_stalls(dut: Any) -> None:
    """Long random stalls on the result stream lose and duplicate nothing."""
    run = _Run("long_stalls")

    async def body() -> dict[str, Any]:
        stall = 3 * (run.man.n + run.man.k + run.man.cycles_per_step)
        tb = await _setup(dut, run, p_idle=0.1, p_stall=0.05, longest=stall)
        held = cocotb.start_soon(_check_held(tb))
        model = run.model()
        steps = min(run.steps, 24)
        await _stream(run, tb, model, 0, steps, 40 * stall)
        await tb.wait_idle("after the stalled run")
        held.cancel()
        counts = {"STEP_COUNT": await tb.read("STEP_COUNT"),
                  "RESULT_COUNT": await tb.read("RESULT_COUNT")}
        if counts != {"STEP_COUNT": steps, "RESULT_COUNT": steps} or not tb.sink.empty():
            raise TBError(f"after {steps} samples: {counts}, "
                          f"{tb.sink.count()} unexpected packets left in the sink")
        run.sb.check_state(steps - 1, expected_state(model, steps), await tb.read_state(),
                           state_formats(run.man))
        return {"stalled_steps": steps, "held_checks": tb_held_checks(tb)}

    await _guarded(run, body)


def tb_held_checks(tb: AxiTB) -> int:
    return int(getattr(tb, "held_checks", 0))


async def _check_held(tb: AxiTB) -> None:
    """AXI4-Stream: while TVALID is high and TREADY low, TDATA and TLAST hold."""
    d = tb.dut
    prev = None
    tb.held_checks = 0  # type: ignore[attr-defined]
    while True:
        await RisingEdge(d.aclk)
        await ReadOnly()
        valid, ready = int(d.m_axis_tvalid.value), int(d.m_axis_tready.value)
        beat = (int(d.m_axis_tdata.value), int(d.m_axis_tlast.value))
        if prev is not None:
            if not valid:
                raise TBError(f"m_axis_tvalid fell before its beat was taken "
                              f"(t={tb.now_ns():.0f} ns)")
            if beat != prev:
                raise TBError(f"m_axis beat changed while stalled: {prev} -> {beat} "
                              f"(t={tb.now_ns():.0f} ns)")
            tb.held_checks += 1  # type: ignore[attr-defined]
        prev = beat if valid and not ready else None


@cocotb.test()
async def register_errors(dut: Any) -> None:
    """Identification registers; error responses that change nothing."""
    run = _Run("register_errors")

    async def body() -> dict[str, Any]:
        tb = await _setup(dut, run, p_idle=0.0, p_stall=0.0)
        rmap, man = tb.rmap, run.man
        for reg in rmap.registers:  # every constant register holds the manifest's value
            if reg.value is not None and await tb.read(reg.name) != reg.value:
                raise TBError(f"{reg.name}: read {await tb.read(reg.name):#x}, "
                              f"expected {reg.value:#x}")
        sizes = (await tb.read("NEURONS"), await tb.read("INPUTS"), await tb.read("OUTPUTS"))
        if sizes != (man.n, man.m, man.k):
            raise TBError(f"NEURONS/INPUTS/OUTPUTS read {sizes}, manifest {man.n, man.m, man.k}")
        w_addr = tb.mem_addr(0, 0, 1)
        w_before = to_signed((await tb.read_at(w_addr))[0], 32)
        wmax = (1 << (man.fixed.weight.total - 1)) - 1
        nregs = len(rmap.registers)
        unmapped = [4 * nregs, rmap.mem_base - 4, tb.mem_addr(man.k + 3, 0, 0)
                    if man.k + 3 < 1 << (rmap.addr_bits - 3 - rmap.idx_bits) else None,
                    rmap.mem_base + 4 * (man.n * man.L)
                    if man.n * man.L < 1 << rmap.idx_bits else None]
        cases = [  # (what, address, value or None for a read, bytes, kind of error)
            ("write to read-only ID", rmap.offset("ID"), 0x1234, 4, "read-only register"),
            ("write to read-only STEP_COUNT", rmap.offset("STEP_COUNT"), 7, 4,
             "read-only register"),
            ("write to a sensitivity", tb.mem_addr(1, 0, 0), 5, 4, "read-only window"),
            ("partial-strobe write of CONTROL", rmap.offset("CONTROL"), 0, 1, "partial strobe"),
            ("weight above the format", w_addr, wmax + 1, 4, "weight outside format W"),
            ("weight below the format", w_addr, -wmax - 2, 4, "weight outside format W"),
            # cocotbext-axi sends a byte read at an odd address as is (a write there
            # would go out with a partial strobe: batched_tb.py writes one unaligned)
            ("unaligned read of ID", rmap.offset("ID") + 2, None, 1, "unaligned address"),
        ] + [(f"{op} of unmapped {a:#x}", a, v, 4, "unmapped address")
             for a in unmapped if a is not None for op, v in (("write", 1), ("read", None))]
        for what, addr, value, nbytes, kind in cases:
            want = access_error(kind).resp
            resp = (await tb.read_at(addr, nbytes))[1] if value is None else \
                await tb.write_at(addr, value, nbytes)
            if resp != RESP[want]:
                raise TBError(f"{what}: response {resp}, expected {want} ({RESP[want]})")
            tb.cover_error("write" if value is not None else "read", kind)
        if await tb.read("COMMAND") != 0:
            raise TBError("COMMAND (write-only) does not read 0")
        # nothing changed
        if await tb.read("ID") != rmap.register("ID").value:
            raise TBError("ID changed after a write to it")
        if to_signed((await tb.read_at(w_addr))[0], 32) != w_before:
            raise TBError("W[0, 1] changed after a refused write")
        ctl = rmap.decode("CONTROL", await tb.read("CONTROL"))
        if ctl != {"LEARN": 0, "LEARN_FROM_TUSER": 1, "LR_SHIFT": run.lr_shift}:
            raise TBError(f"CONTROL changed after a refused write: {ctl}")
        state = await tb.read_state()
        run.sb.check_state(-1, expected_state(run.model(), 0), state, state_formats(man))
        # a legal weight write at both bounds reads back exactly
        for v in (wmax, -wmax - 1):
            if await tb.write_at(w_addr, v) != RESP["OKAY"]:
                raise TBError(f"weight write of {v} refused")
            if to_signed((await tb.read_at(w_addr))[0], 32) != v:
                raise TBError(f"weight {v} read back differently")
        return {"error_cases": len(cases)}

    await _guarded(run, body)


async def _aresetn_during_a_step(run: _Run, tb: AxiTB) -> int:
    """ARESETN low while a step runs: every register back at its reset value; reloaded,
    the core starts from a cleared state and runs exactly as a new model. Returns the
    steps checked after it."""
    await _start_a_step(tb, run)
    await tb.reset()  # ARESETN low for 4 cycles, then STATUS polled until idle
    tb.cover("ARESETN during a step")
    for name in ("CONTROL", "STEP_COUNT", "SAT_COUNT", "RESULT_COUNT", "FRAME_ERRORS"):
        if await tb.read(name) != tb.rmap.register(name).reset:
            raise TBError(f"after ARESETN during a step {name} is not its reset value")
    tb.sink.clear()  # a result cut by the reset is not a result
    await _load(tb, run)
    model = run.model()
    fmts = state_formats(run.man)
    run.sb.check_state(-1, expected_state(model, 0), await tb.read_state(), fmts)
    steps = min(run.steps, 2)
    await _stream(run, tb, model, 0, steps, 20 * run.man.cycles_per_step + 200)
    await tb.wait_idle("after ARESETN")
    run.sb.check_state(steps - 1, expected_state(model, steps), await tb.read_state(), fmts)
    return steps


@cocotb.test()
async def reset_and_framing(dut: Any) -> None:
    """A soft reset in the middle of a step and a short packet; then exact again; a clear
    between steps; exact again."""
    run = _Run("reset_and_framing")

    async def body() -> dict[str, Any]:
        tb = await _setup(dut, run, p_idle=0.0, p_stall=0.0)
        man = run.man
        # a step starts; reset the core half-way through it
        await _start_a_step(tb, run)
        await tb.write("COMMAND", SOFT_RESET=1)
        tb.cover("soft reset during a step")
        await tb.wait_idle("soft reset")
        counts = (await tb.read("STEP_COUNT"), await tb.read("RESULT_COUNT"))
        if counts != (0, 0):
            raise TBError(f"after a soft reset STEP_COUNT, RESULT_COUNT = {counts}")
        ctl = tb.rmap.decode("CONTROL", await tb.read("CONTROL"))
        if ctl["LR_SHIFT"] != run.lr_shift:
            raise TBError(f"CONTROL not kept across a soft reset: {ctl}")
        if not tb.sink.empty():
            tb.sink.clear()  # a result cut by the reset is not a result
        # a packet one beat short: dropped and counted
        short = tb.sample_frame(run.x_q[0], run.d_q[0], True)
        short.tdata = short.tdata[:-1]
        if len(short.tdata):
            await tb.source.send(short)
            await tb.source.wait()
            await ClockCycles(dut.aclk, 4)
            frames = await tb.read("FRAME_ERRORS")
            if frames != 1 or await tb.read("STEP_COUNT") != 0:
                raise TBError(f"short packet: FRAME_ERRORS {frames}, expected 1, no step")
            tb.cover("sample packet one beat short")
        # reload the weights the half-done step may have touched; the model starts afresh
        await tb.write_weights(run.w0_q)
        model = run.model()
        steps = min(run.steps, 8)
        await _stream(run, tb, model, 0, steps, 20 * man.cycles_per_step + 200)
        await tb.wait_idle("after the run")
        run.sb.check_state(steps - 1, expected_state(model, steps), await tb.read_state(),
                           state_formats(man))
        # COMMAND.CLEAR between steps: y, every sensitivity and the counters cleared, the
        # weights kept (the model's reset_state), and the next steps exact from there
        await tb.write("COMMAND", CLEAR=1)
        tb.cover("clear between steps")
        await tb.wait_idle("clear")
        model.reset_state()
        if await tb.read("RESULT_COUNT") != 0:
            raise TBError("RESULT_COUNT not cleared by COMMAND.CLEAR")
        run.sb.check_state(steps - 1, expected_state(model, 0), await tb.read_state(),
                           state_formats(man))
        more = min(2, run.steps - steps)
        await _stream(run, tb, model, steps, steps + more, 20 * man.cycles_per_step + 200)
        await tb.wait_idle("after the clear")
        run.sb.check_state(steps + more - 1, expected_state(model, more),
                           await tb.read_state(), state_formats(man))
        after = await _aresetn_during_a_step(run, tb)
        return {"steps_after_reset": steps, "steps_after_clear": more,
                "steps_after_aresetn": after}

    await _guarded(run, body)


@cocotb.test()
async def every_lr_shift(dut: Any) -> None:
    """One learning step at every learning-rate shift CONTROL.LR_SHIFT takes (written
    between steps, the model's changed alike), every output scored, the state at the end."""
    run = _Run("every_lr_shift")

    async def body() -> dict[str, Any]:
        tb = await _setup(dut, run, p_idle=0.0, p_stall=0.0)
        model = run.model()
        shifts = list(LR_SHIFTS)
        reps = -(-len(shifts) // run.steps)  # the case's samples again if it is shorter
        run.x_q, run.d_q = np.tile(run.x_q, (reps, 1)), np.tile(run.d_q, (reps, 1))
        run.learn_steps = np.ones(len(run.x_q), dtype=bool)
        for t, shift in enumerate(shifts):
            await tb.write("CONTROL", LEARN=0, LEARN_FROM_TUSER=1, LR_SHIFT=shift)
            model.set_lr_shift(shift)
            run.lr_shift = shift
            await _stream(run, tb, model, t, t + 1, 20 * run.man.cycles_per_step + 200)
            await tb.wait_idle(f"after the step at LR_SHIFT {shift}")
        run.sb.check_state(len(shifts) - 1, expected_state(model, len(shifts)),
                           await tb.read_state(), state_formats(run.man))
        # the runner takes the run's steps from the first test reporting any
        run.result["steps"] = 0
        return {"lr_shifts": len(shifts)}

    await _guarded(run, body)


# -- pytest runners ----------------------------------------------------------------------
# 1. The protocol tests: every cocotb test of this module (cocotbext-axi, woken every cycle)
#    in one simulation of each configuration; a failure names the cocotb test.
AXI_CONFIGS: dict[str, TbConfig] = {c.name: c for c in (
    TbConfig("axi_tiny", n=2, m=1, k=1, steps=40, top=AXI_TOP),
    TbConfig("axi_m0_k2", n=3, m=0, k=2, steps=30, top=AXI_TOP, checkpoint_every=10,
             sims=("icarus",)),
    TbConfig("axi_narrow", n=3, m=2, k=2, steps=40, act=FixedFormat.parse("10.8"),
             weight=FixedFormat.parse("10.6"), sens=FixedFormat.parse("10.6"), lut_bits=8,
             task="saturate", top=AXI_TOP, checkpoint_every=10, slow=True),
    # slow: ~160 s, mostly the state read back word by word over AXI4-Lite at checkpoints
    TbConfig("axi_freq15", n=15, m=1, k=1, steps=60, task="freq", checkpoint_every=20,
             top=AXI_TOP, sims=("verilator",), slow=True),
)}


def _params() -> list[Any]:
    return [pytest.param(name, sim, id=f"{name}-{sim}",
                         marks=[pytest.mark.slow] if cfg.slow else [])
            for name, cfg in AXI_CONFIGS.items() for sim in cfg.sims]


@pytest.mark.parametrize(("config", "sim"), _params())
def test_trtrl_axi(config: str, sim: str, request: pytest.FixtureRequest) -> None:
    """Build the AXI top for ``config`` and run every cocotb test of this module on ``sim``."""
    from trtrl.testbenches.runner import run_case

    res = run_case(AXI_CONFIGS[config], sim, waves=waves_option(request))
    record(request, res)
    assert res.passed, res.message
    assert sorted(res.extra["tests"]) == sorted(TESTS)
    assert res.steps == AXI_CONFIGS[config].steps


# 2. The regression matrix through the AXI top: every configuration of
#    testbenches/configs.py (and the seeded random draws) in the HDL batch harness
#    (testbenches/batch.py: random idle cycles on the samples, random backpressure on the
#    results, stream protocol checks in HDL), the same scoreboard as the core's own run.
#    In the default run: tiny on both simulators, the 6,000-step learning run on Verilator
#    and the random draws on Icarus; the rest with --full.
AXI_TAG = "-axi"
DEFAULT_MATRIX = {("tiny", "icarus"), ("tiny", "verilator"), ("lanes2", "icarus"),
                  ("freq15_learn", "verilator")}


def through_axi(cfg: TbConfig) -> TbConfig:
    return replace(cfg, top=AXI_TOP)


def _matrix_params() -> list[Any]:
    return [pytest.param(name, sim, id=f"{name}{AXI_TAG}-{sim}",
                         marks=[] if (name, sim) in DEFAULT_MATRIX else [pytest.mark.slow])
            for name, cfg in CONFIGS.items() for sim in cfg.sims]


@pytest.mark.parametrize(("config", "sim"), _matrix_params())
def test_matrix_through_axi(config: str, sim: str, request: pytest.FixtureRequest) -> None:
    """A configuration of the matrix, batched through the AXI top, scored every step."""
    from trtrl.testbenches.runner import run_case

    cfg = through_axi(CONFIGS[config])
    res = run_case(cfg, sim, waves=waves_option(request), batched=True, tag=AXI_TAG)
    record(request, res)
    assert res.passed, res.message
    assert res.steps == cfg.steps
    if cfg.compare_float:
        check_learning(res.extra)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``test_random_through_axi``: the draws of the core's matrix (same seeds)."""
    if "axi_rand_cfg" not in metafunc.fixturenames:
        return
    full = bool(metafunc.config.getoption("--full", default=False))
    params = [pytest.param(through_axi(cfg), sim, id=f"{cfg.name}{AXI_TAG}-{sim}")
              for cfg in random_configs(tb_seed(metafunc.config), full) for sim in cfg.sims]
    metafunc.parametrize(("axi_rand_cfg", "sim"), params)


def test_random_through_axi(axi_rand_cfg: TbConfig, sim: str,
                            request: pytest.FixtureRequest) -> None:
    """A seeded random configuration, batched through the AXI top."""
    from trtrl.testbenches.runner import run_case

    cfg = axi_rand_cfg
    res = run_case(cfg, sim, waves=waves_option(request), batched=True, tag=AXI_TAG)
    record(request, res)
    rerun = (f"rerun: .venv/bin/pytest testbenches -k '{cfg.name}{AXI_TAG}-{sim}' "
             f"--tb-seed {cfg.seed}{' --full' if sim == 'verilator' else ''}")
    assert res.passed, f"{cfg.name} ({describe(cfg)}) failed; {rerun}\n{res.message}"
    assert res.steps == cfg.steps


__all__ = ["AxiTB", "TESTS", *TESTS]
