"""Drive the MyHDL neuron array through its top-level ports (MyHDL's own simulator).

:func:`simulate` resets the array, loads the weights through the memory port, streams
the samples, and after every step (optionally) reads back every weight and
sensitivity through the memory port, exactly as a host would. Inputs are driven and
outputs sampled on the falling edge; cycles are counted on rising edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from myhdl import Simulation, StopSimulation, always, delay, instance

from pymodel.fixed.words import pack, unpack
from rtl.config import ArrayConfig

__all__ = ["SimResult", "simulate"]


@dataclass
class SimResult:
    y: list = field(default_factory=list)  # per step, (N,)
    e: list = field(default_factory=list)  # per step, (K,)
    sat: list = field(default_factory=list)  # cumulative sat_count after each step
    steps: list = field(default_factory=list)  # step_count after each step
    cycles: list = field(default_factory=list)  # handshake to next s_ready, per step
    readback: list = field(default_factory=list)  # per step: dict w, p_out, p_ing, p_egr
    clear_cycles: int = 0


def simulate(
    cfg: ArrayConfig,
    w0: np.ndarray,
    x: np.ndarray,
    d: np.ndarray,
    learn=True,
    lr_shift=0,
    readback_every: int = 1,
    clear_after: int | None = None,
    skip_readback: bool = False,
) -> SimResult:
    """Run ``len(x)`` steps; ``learn``/``lr_shift`` may be per-step sequences.

    ``readback_every = 0`` reads back only after the last step. ``clear_after = t``
    pulses ``clear`` after step ``t`` (weights kept, state cleared).
    """
    from rtl.generate import build

    inst, sig = build(cfg)
    n, m, k, L = cfg.n, cfg.m, cfg.k, cfg.L
    at = cfg.fixed.act.total
    steps = len(x)
    learn_seq = [bool(learn)] * steps if np.ndim(learn) == 0 else [bool(v) for v in learn]
    lr_seq = [int(lr_shift)] * steps if np.ndim(lr_shift) == 0 else [int(v) for v in lr_shift]
    res = SimResult()
    clk = sig["clk"]
    cyc = [0]

    @always(delay(5))
    def clkgen():
        clk.next = not clk

    @instance
    def counter():
        while True:
            yield clk.posedge
            cyc[0] += 1

    def region_addr(region: int, i: int, j: int) -> int:
        return (region << cfg.idx_bits) + i * L + j

    def readback():
        """Generator: read every word of every region, pipelined one request a cycle."""
        reqs = []
        for region in range(k + 3):
            for i in range(n):
                for j in range(L):
                    reqs.append((region, i, j))
        got = []
        pos = 0
        while len(got) < len(reqs):
            if pos < len(reqs):
                r, i, j = reqs[pos]
                sig["m_addr"].next = region_addr(r, i, j)
                sig["m_re"].next = 1
                pos += 1
            else:
                sig["m_re"].next = 0
            yield clk.negedge
            if sig["m_rvalid"]:
                got.append(int(sig["m_rdata"].val))
        sig["m_re"].next = 0
        vals = np.array(got, dtype=np.int64).reshape(k + 3, n, L)
        return {"w": vals[0], "p_out": vals[1 : k + 1], "p_ing": vals[k + 1], "p_egr": vals[k + 2]}

    out = {}

    @instance
    def driver():
        rst = sig["rst"]
        yield clk.negedge
        rst.next = 1
        yield clk.negedge
        rst.next = 0
        t0 = cyc[0]
        yield clk.negedge
        while sig["busy"]:
            yield clk.negedge
        res.clear_cycles = cyc[0] - t0
        # load weights through the memory port
        for i in range(n):
            for j in range(L):
                if skip_readback and w0[i, j] == 0:
                    continue
                sig["m_addr"].next = region_addr(0, i, j)
                sig["m_wdata"].next = int(w0[i, j])
                sig["m_we"].next = 1
                yield clk.negedge
        sig["m_we"].next = 0
        yield clk.negedge
        for t in range(steps):
            sig["s_x"].next = pack(x[t], at) if m > 0 else 0
            sig["s_d"].next = pack(d[t], at)
            sig["learn"].next = learn_seq[t]
            sig["lr_shift"].next = lr_seq[t]
            sig["s_valid"].next = 1
            while not sig["s_ready"]:
                yield clk.negedge
            t_hs = cyc[0]  # the next rising edge samples the handshake
            yield clk.negedge
            sig["s_valid"].next = 0
            while not sig["r_valid"]:
                yield clk.negedge
            res.y.append(unpack(sig["r_y"].val, n, at))
            res.e.append(unpack(sig["r_e"].val, k, at))
            res.sat.append(int(sig["sat_count"].val))
            res.steps.append(int(sig["step_count"].val))
            while not sig["s_ready"]:
                yield clk.negedge
            res.cycles.append(cyc[0] - t_hs - 1)
            last = t == steps - 1
            if skip_readback:
                pass
            elif last or (readback_every and (t + 1) % readback_every == 0):
                rb = yield from readback()
                res.readback.append((t, rb))
            if clear_after is not None and t == clear_after:
                sig["clear"].next = 1
                yield clk.negedge
                sig["clear"].next = 0
                yield clk.negedge
                while sig["busy"]:
                    yield clk.negedge
        out["done"] = True
        raise StopSimulation

    sim = Simulation(inst, clkgen, counter, driver)
    sim.run(quiet=1)
    sim.quit() if hasattr(sim, "quit") else None
    if not out.get("done"):
        raise RuntimeError("simulation ended before the driver finished")
    return res
