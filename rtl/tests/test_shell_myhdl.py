"""The shell alone: ``trtrl_axi`` around a behavioural stand-in core, in MyHDL simulation.

The stand-in honours the core interface (``rtl/README.md``) with a short, known step: it
answers sample ``t`` with ``y_i = 16 t + i`` and ``e_k = x_0 + d_k`` after a few busy cycles,
keeps a word memory behind the memory port (read latency 2) and counts steps. So a test
here sees only the shell's work: beat order, framing, backpressure, the register decode,
clear and soft reset, without the learning core's thousands of cycles.
"""

from __future__ import annotations

import random

import pytest
from myhdl import StopSimulation, always, block, delay, instance

from trtrl.pymodel.fixed.words import pack, to_signed, unpack
from trtrl.rtl.config import ArrayConfig
from trtrl.rtl.generate import _fresh_myhdl_names
from trtrl.rtl.regmap import RESP, register_map
from trtrl.rtl.shell import make_axi_ports, trtrl_axi

STEP_CYCLES = 6


@block
def stand_in_core(clk, rst, s_valid, s_ready, s_x, s_d, r_valid, r_y, r_e, learn, lr_shift,
                  clear, busy, m_addr, m_wdata, m_we, m_re, m_rdata, m_rvalid, step_count,
                  sat_count, cfg):
    """The core interface with a trivial, known behaviour (simulation only)."""
    a = cfg.fixed.act.total
    mem: dict[int, int] = {}
    state = {"left": 0, "x": 0, "d": [], "reads": []}

    @always(clk.posedge)
    def run():
        r_valid.next = False
        m_rvalid.next = False
        if rst:
            state.update(left=3, reads=[])
            step_count.next = 0
            busy.next = True
            s_ready.next = False
            return
        reads = state["reads"]
        if reads and reads[0][0] == 0:
            m_rdata.next = reads.pop(0)[1]
            m_rvalid.next = True
        state["reads"] = [(n - 1, v) for n, v in reads]
        if state["left"] > 0:
            state["left"] -= 1
            if state["left"] == 0:
                busy.next = False
                s_ready.next = True
                if state["d"]:
                    t = int(step_count)
                    r_y.next = pack([16 * t + i for i in range(cfg.n)], a)
                    r_e.next = pack([state["x"] + dk for dk in state["d"]], a)
                    r_valid.next = True
                    step_count.next = t + 1
                    state["d"] = []
            return
        if clear:
            state["left"] = 3
            step_count.next = 0
            busy.next = True
            s_ready.next = False
        elif s_valid:
            state["x"] = unpack(int(s_x), 1, a)[0] if cfg.m else 0
            state["d"] = unpack(int(s_d), cfg.k, a)
            state["left"] = STEP_CYCLES
            busy.next = True
            s_ready.next = False
        if m_we:
            mem[int(m_addr)] = int(m_wdata)
        if m_re:
            state["reads"].append((1, mem.get(int(m_addr), 0)))

    return run


class _Bench:
    """MyHDL drivers of the three buses, with seeded idle and stall patterns."""

    def __init__(self, cfg: ArrayConfig, seed: int) -> None:
        _fresh_myhdl_names()
        self.cfg = cfg
        self.rmap = register_map(cfg)
        self.p = make_axi_ports(cfg)
        self.rng = random.Random(seed)
        self.results: list[list[int]] = []
        self.held_violations = 0

    def build(self, body):
        return shell_bench(self, body)

    stall = 0.0

    def edge(self):
        return self.p["aclk"].posedge

    def reset(self):
        """aresetn low for 4 cycles, then 6 cycles for the stand-in's reset sweep."""
        self.p["aresetn"].next = False
        for _ in range(4):
            yield self.edge()
        self.p["aresetn"].next = True
        for _ in range(6):
            yield self.edge()

    def send(self, words: list[int], learn: int = 1, last_at: int | None = None):
        """One sample packet, with random idle cycles between beats."""
        p = self.p
        tw = len(p["s_axis_tdata"])
        last_at = len(words) - 1 if last_at is None else last_at
        for i, w in enumerate(words):
            while self.rng.random() < 0.3:  # an idle cycle: no beat offered
                yield delay(1)
                p["s_axis_tvalid"].next = False
                yield self.edge()
            yield delay(1)
            p["s_axis_tdata"].next = w & ((1 << tw) - 1)
            p["s_axis_tlast"].next = i == last_at
            p["s_axis_tuser"].next = learn
            p["s_axis_tvalid"].next = True
            yield self.edge()
            while not p["s_axis_tready"]:
                yield self.edge()
        yield delay(1)
        p["s_axis_tvalid"].next = False

    def write(self, addr: int, value: int, strb: int = 0xF, out: list | None = None):
        p = self.p
        yield delay(1)
        p["s_axil_awaddr"].next, p["s_axil_wdata"].next = addr, value & 0xFFFF_FFFF
        p["s_axil_wstrb"].next = strb
        p["s_axil_awvalid"].next = p["s_axil_wvalid"].next = True
        p["s_axil_bready"].next = True
        yield self.edge()
        while not p["s_axil_awready"]:
            yield self.edge()
        yield delay(1)
        p["s_axil_awvalid"].next = p["s_axil_wvalid"].next = False
        while not p["s_axil_bvalid"]:
            yield self.edge()
        if out is not None:
            out.append(int(p["s_axil_bresp"]))
        yield self.edge()

    def read(self, addr: int, out: list):
        p = self.p
        yield delay(1)
        p["s_axil_araddr"].next = addr
        p["s_axil_arvalid"].next = True
        p["s_axil_rready"].next = True
        yield self.edge()
        while not p["s_axil_arready"]:
            yield self.edge()
        yield delay(1)
        p["s_axil_arvalid"].next = False
        while not p["s_axil_rvalid"]:
            yield self.edge()
        out.append((int(p["s_axil_rdata"]), int(p["s_axil_rresp"])))
        yield self.edge()


@block
def shell_bench(bench: _Bench, body, cycles: int = 40000):
    """The shell, its stand-in core, a clock, the result sink (which also checks that a
    stalled beat holds), the test body and a watchdog."""
    p = bench.p
    dut = trtrl_axi(**p, cfg=bench.cfg, core=stand_in_core)

    @instance
    def clock():
        while True:
            p["aclk"].next = not p["aclk"]
            yield delay(5)

    @instance
    def sink():
        beats: list[int] = []
        prev = None
        while True:
            yield p["aclk"].posedge
            valid, ready = bool(p["m_axis_tvalid"]), bool(p["m_axis_tready"])
            beat = (int(p["m_axis_tdata"]), bool(p["m_axis_tlast"]))
            if prev is not None and (not valid or beat != prev):
                bench.held_violations += 1
            prev = beat if valid and not ready else None
            if valid and ready:
                beats.append(to_signed(beat[0], len(p["m_axis_tdata"])))
                if beat[1]:
                    bench.results.append(beats)
                    beats = []
            yield delay(1)  # drive away from the edge
            p["m_axis_tready"].next = bench.rng.random() >= bench.stall

    @instance
    def test_body():
        yield from body()

    @instance
    def watchdog():
        yield delay(10 * cycles)
        raise AssertionError(f"the test body did not finish in {cycles} cycles")

    return dut, clock, sink, test_body, watchdog


def _run(bench: _Bench, body) -> None:
    sim = bench.build(body)
    try:
        sim.run_sim(quiet=1)
    except StopSimulation:
        pass
    finally:
        sim.quit_sim()


@pytest.mark.parametrize("cfg", [ArrayConfig(2, 1, 1), ArrayConfig(3, 0, 2)],
                         ids=["n2m1k1", "n3m0k2"])
def test_results_in_order_under_long_stalls(cfg: ArrayConfig) -> None:
    bench = _Bench(cfg, seed=7)
    bench.stall = 0.9  # the sink takes one beat in ten
    steps = 12
    samples = [[t + 1] * cfg.m + [100 + t + k for k in range(cfg.k)] for t in range(steps)]
    counts: list = []

    def body():
        yield from bench.reset()
        for words in samples:
            yield from bench.send(words)
        while len(bench.results) < steps:
            yield bench.edge()
        for name in ("STEP_COUNT", "RESULT_COUNT"):
            yield from bench.read(bench.rmap.offset(name), counts)
        raise StopSimulation

    _run(bench, body)
    assert bench.held_violations == 0
    x0 = [w[0] if cfg.m else 0 for w in samples]
    expected = [[16 * t + i for i in range(cfg.n)] + [x0[t] + 100 + t + k for k in range(cfg.k)]
                for t in range(steps)]
    assert bench.results == expected  # every result once, in order, beat by beat
    assert counts == [(steps, RESP["OKAY"]), (steps, RESP["OKAY"])]


def test_framing_errors_and_register_decode() -> None:
    cfg = ArrayConfig(2, 1, 1)
    bench = _Bench(cfg, seed=3)
    rmap = bench.rmap
    reads: list = []
    bresps: list = []

    def body():
        yield from bench.reset()
        yield from bench.send([7], last_at=0)  # one beat short: dropped
        yield from bench.send([5, 6])  # step 0
        yield from bench.send([1, 2, 3])  # one beat long: dropped
        yield from bench.send([8, 9])  # step 1
        while len(bench.results) < 2:
            yield bench.edge()
        yield from bench.read(rmap.offset("FRAME_ERRORS"), reads)
        yield from bench.read(rmap.offset("STEP_COUNT"), reads)
        w = rmap.window("WEIGHTS").base
        yield from bench.write(w + 4, -5, out=bresps)
        yield from bench.read(w + 4, reads)
        yield from bench.write(rmap.offset("ID"), 1, out=bresps)  # read-only
        yield from bench.write(w + 4, 3, strb=0x1, out=bresps)  # partial strobe
        yield from bench.write(rmap.mem_base - 4, 3, out=bresps)  # unmapped
        yield from bench.read(w + 4, reads)
        yield from bench.read(rmap.offset("ID"), reads)
        raise StopSimulation

    _run(bench, body)
    okay = RESP["OKAY"]
    assert reads[:3] == [(2, okay), (2, okay), (-5 & 0xFFFF_FFFF, okay)]
    assert bresps == [okay, RESP["SLVERR"], RESP["SLVERR"], RESP["DECERR"]]
    assert reads[3:] == [(-5 & 0xFFFF_FFFF, okay), (rmap.register("ID").value, okay)]
    assert bench.results == [[0, 1, 5 + 6], [16, 17, 8 + 9]]
