"""cocotb test of the AXI top inside its HDL batch harness (:mod:`trtrl.testbenches.batch`).

The same scoreboard as ``learn_through_axi``, but Python wakes once per batch: the
expected trace of a batch is computed ahead, its samples written to ``samples.hex``, and
the harness streams them (HDL clock, LFSR idle cycles and backpressure) and writes the
results to ``results.hex``. Weights go in and checkpoints come out over AXI4-Lite through
the harness's HDL sequencer (a list of operations in ``axil.hex``, the responses in
``axil_out.hex``); the odd register access (``CONTROL``, polling ``STATUS``) goes through
cocotbext-axi, as in the per-cycle testbench.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import First, RisingEdge, Timer

from trtrl.pymodel.fixed.words import to_signed
from trtrl.rtl.regmap import RESP, access_error
from trtrl.testbenches.batch import (
    AXIL_HEX,
    AXIL_OUT_HEX,
    LEARN_HEX,
    RESULTS_HEX,
    SAMPLES_HEX,
    axil_ops,
    axil_responses,
    read_hex,
    write_hex,
)
from trtrl.testbenches.learning import learning_figures
from trtrl.testbenches.scoreboard import expected_state, state_formats
from trtrl.testbenches.test_trtrl_axi.test_trtrl_axi import (
    AxiTB,
    TBError,
    _guarded,
    _Run,
)

# 20% idle cycles on the samples, 30% backpressure on the results (LFSR low byte below)
SRC_IDLE, SNK_STALL = 51, 77
MAX_BATCH = 1024  # the harness's sample memory (testbenches/runner.py writes it so deep)


class HarnessTB(AxiTB):
    """:class:`AxiTB` whose bulk reads and writes run in the harness's HDL sequencer."""

    async def _sequence(self, ops: list[tuple[int, int | None]]) -> list[tuple[int, int]]:
        """``(address, data or None)`` operations through the sequencer: (resp, word) each."""
        d, cwd = self.dut, Path.cwd()  # the simulator's folder: where $readmemh looks
        aw = self.man.ports["s_axil_awaddr"]
        write_hex(cwd / AXIL_HEX, axil_ops(ops, aw), aw + 33)
        d.axil_len.value = len(ops)
        d.axil_load.value = 1
        await RisingEdge(d.aclk)
        d.axil_load.value = 0
        d.axil_go.value = 1
        timeout = Timer(20 * (len(ops) + 10) * self.clock_ns, unit="ns")
        if await First(RisingEdge(d.axil_done), timeout) is timeout:
            raise TBError(f"the harness's AXI4-Lite sequencer did not finish {len(ops)} "
                          f"operations in {20 * (len(ops) + 10)} cycles")
        out = axil_responses(read_hex(cwd / AXIL_OUT_HEX))
        d.axil_go.value = 0
        await RisingEdge(d.aclk)
        if len(out) != len(ops):
            raise TBError(f"the sequencer wrote {len(out)} responses for {len(ops)} operations")
        return out

    async def _run_ops(self, ops: list[tuple[int, int | None]]) -> list[tuple[int, int]]:
        """:meth:`_sequence`; anything but OKAY is a protocol error."""
        out = await self._sequence(ops)
        for (addr, data), (resp, _) in zip(ops, out, strict=True):
            if resp != RESP["OKAY"]:
                kind = "read" if data is None else "write"
                raise TBError(f"{kind} of {self.where(addr)}: response {resp}")
        return out

    async def unaligned_write(self) -> None:
        """A whole-word write two bytes into CONTROL (cocotbext-axi would send it with a
        partial strobe; the sequencer's strobe is always 0xF): its error, CONTROL kept."""
        before = await self.read("CONTROL")
        want = RESP[access_error("unaligned address").resp]
        [(resp, _)] = await self._sequence([(self.rmap.offset("CONTROL") + 2, 0)])
        if resp != want or await self.read("CONTROL") != before:
            raise TBError(f"unaligned write of CONTROL: response {resp} (expected {want}), "
                          f"CONTROL {await self.read('CONTROL'):#x} (was {before:#x})")
        self.cover_error("write", "unaligned address")

    async def read_many(self, addrs: list[int]) -> list[int]:
        return [word for _, word in await self._run_ops([(a, None) for a in addrs])]

    async def write_many(self, ops: list[tuple[int, int]]) -> None:
        await self._run_ops(list(ops))


@cocotb.test()
async def learn_batched(dut: Any) -> None:
    """The case in batches through the HDL harness; every output scored, state at checkpoints."""
    run = _Run("learn_batched")

    async def body() -> dict[str, Any]:
        man = run.man
        if not run.cfg.get("hdl_clock", True):  # Verilator: cocotb's C++ clock
            # the clock in C (GPI), not a Python coroutine woken twice a cycle
            Clock(dut.aclk, run.clock_ns, unit="ns", impl="gpi").start()
        # the VIP attaches in reset: the core's outputs are X until its first reset edge,
        # the second edge with ARESETN low (the core's reset is a register)
        dut.aresetn.value = 0
        await RisingEdge(dut.aclk)
        await RisingEdge(dut.aclk)
        await RisingEdge(dut.aclk)
        tb = HarnessTB(dut, man, run.clock_ns, run.seed, streams=False)
        dut.go.value = 0
        dut.load.value = 0
        dut.axil_go.value = 0
        dut.axil_load.value = 0
        dut.src_seed.value = 2 * run.seed + 1
        dut.snk_seed.value = 2 * run.seed + 2
        dut.src_idle.value = SRC_IDLE
        dut.snk_stall.value = SNK_STALL
        tb.funcov = run.funcov
        tb.cover("sample stream idle cycles")
        tb.cover("result stream backpressure")
        await tb.reset()
        await tb.write_weights(run.w0_q)
        await tb.write("CONTROL", LEARN=0, LEARN_FROM_TUSER=1, LR_SHIFT=run.lr_shift)
        await tb.unaligned_write()
        model = run.model()
        fmts = state_formats(man)
        run.sb.check_state(-1, expected_state(model, 0), await tb.read_state(), fmts)
        every = int(run.cfg.get("checkpoint_every", 1)) or run.steps
        batch = min(every, MAX_BATCH)
        cwd = Path.cwd()  # the simulator's folder: where $readmemh and $writememh look
        n, k, rb = man.n, man.k, man.n + man.k
        e_hw = np.zeros((run.steps, k), dtype=np.int64)
        stream_s = model_s = state_s = sim_s = 0.0
        for first in range(0, run.steps, batch):
            last = min(run.steps, first + batch)
            t0 = time.perf_counter()
            expected = []
            for t in range(first, last):
                run.learn(model, t)
                expected.append(model.step(run.x_q[t], run.d_q[t]))
            t1 = time.perf_counter()
            words = [int(v) for t in range(first, last) for v in (*run.x_q[t], *run.d_q[t])]
            write_hex(cwd / SAMPLES_HEX, words, tb.tw)
            write_hex(cwd / LEARN_HEX, [int(v) for v in run.learn_steps[first:last]], 1)
            dut.batch_len.value = last - first
            dut.load.value = 1
            await RisingEdge(dut.aclk)
            dut.load.value = 0
            dut.go.value = 1
            limit = (last - first) * 20 * (man.cycles_per_step + rb) + 1000
            timeout = Timer(limit * run.clock_ns, unit="ns")
            t_sim = time.perf_counter()
            fired = await First(RisingEdge(dut.done), timeout)
            sim_s += time.perf_counter() - t_sim
            if fired is timeout:
                raise TBError(f"steps {first}..{last - 1}: the harness saw "
                              f"{int(dut.results_seen.value)} results in {limit} cycles")
            got = [to_signed(w, tb.tw) for w in read_hex(cwd / RESULTS_HEX)]
            if len(got) != (last - first) * rb:
                raise TBError(f"steps {first}..{last - 1}: {len(got)} result words, "
                              f"expected {(last - first) * rb}")
            beats = np.asarray(got, dtype=np.int64).reshape(last - first, rb)
            run.sb.check_output_batch(first, [y for y, _ in expected], beats[:, :n],
                                      [e for _, e in expected], beats[:, n:], run.fmt_a)
            e_hw[first:last] = beats[:, n:]
            run.result["steps"] = last
            errors = int(dut.proto_errors.value)
            if errors:
                raise TBError(f"steps {first}..{last - 1}: {errors} AXI4-Stream protocol "
                              "errors on the result stream (a stalled beat changed, or TLAST "
                              "off beat N+K)")
            dut.go.value = 0
            await RisingEdge(dut.aclk)
            model_s += t1 - t0
            stream_s += time.perf_counter() - t1
            if last % every == 0 or last == run.steps:
                t2 = time.perf_counter()
                await tb.wait_idle(f"after step {last - 1}")
                run.sb.check_state(last - 1, expected_state(model, last),
                                   await tb.read_state(), fmts)
                state_s += time.perf_counter() - t2
        stim = np.load(run.cfg["stimulus"])
        learning = learning_figures(e_hw, run.steps, stim, man, run.lr_shift,
                                    bool(run.cfg.get("compare_float")))
        cycles = int(dut.stream_cycles.value)
        return {**learning,
                # with the harness's idle cycles and backpressure: a throughput, not the
                # core's own cycles per step (the manifest's)
                "cycles_per_step": round(cycles / run.steps, 3),
                "manifest_cycles_per_step": man.cycles_per_step,
                "stream_wall_s": round(stream_s, 3), "model_wall_s": round(model_s, 3),
                "state_wall_s": round(state_s, 3),
                # of stream_wall_s, the simulator streaming a batch while Python waits
                "sim_wait_s": round(sim_s, 3),
                "stream_steps_per_s": round(run.steps / stream_s, 1) if stream_s else None,
                "sat_count": int(model.sat_count), "lr_shift": run.lr_shift,
                "result_count": await tb.read("RESULT_COUNT"), "batch": batch,
                "idle_threshold": SRC_IDLE, "stall_threshold": SNK_STALL}

    await _guarded(run, body)


__all__ = ["learn_batched", "np"]
