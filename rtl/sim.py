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

from trtrl.pymodel.fixed.words import pack, unpack
from trtrl.rtl.config import ArrayConfig

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


class _Host:
    """The host side of the ports, as MyHDL generators: what a CPU does to the array.

    Inputs change on the falling edge; ``cycles[0]`` counts rising edges.
    """

    def __init__(self, cfg: ArrayConfig, sig: dict, cycles: list[int]) -> None:
        self.cfg, self.sig, self.cycles = cfg, sig, cycles
        self.clk = sig["clk"]

    def _wait_while(self, name: str, value: bool):
        while bool(self.sig[name]) == value:
            yield self.clk.negedge

    def _addr(self, region: int, i: int, j: int) -> int:
        return (region << self.cfg.idx_bits) + i * self.cfg.L + j

    def reset(self):
        """Pulse ``rst``; return the cycles ``busy`` stays high (the clear sweep)."""
        rst = self.sig["rst"]
        yield self.clk.negedge
        rst.next = 1
        yield self.clk.negedge
        rst.next = 0
        t0 = self.cycles[0]
        yield self.clk.negedge
        yield from self._wait_while("busy", True)
        return self.cycles[0] - t0

    def load_weights(self, w0: np.ndarray, skip_zero: bool):
        sig = self.sig
        for i in range(self.cfg.n):
            for j in range(self.cfg.L):
                if skip_zero and w0[i, j] == 0:
                    continue
                sig["m_addr"].next = self._addr(0, i, j)
                sig["m_wdata"].next = int(w0[i, j])
                sig["m_we"].next = 1
                yield self.clk.negedge
        sig["m_we"].next = 0
        yield self.clk.negedge

    def step(self, x_t, d_t, learn: bool, lr_shift: int, res: SimResult):
        """One sample in, its results out; records outputs, counters and cycles."""
        cfg, sig = self.cfg, self.sig
        at = cfg.fixed.act.total
        sig["s_x"].next = pack(x_t, at) if cfg.m > 0 else 0
        sig["s_d"].next = pack(d_t, at)
        sig["learn"].next = learn
        sig["lr_shift"].next = lr_shift
        sig["s_valid"].next = 1
        yield from self._wait_while("s_ready", False)
        t_hs = self.cycles[0]  # the next rising edge samples the handshake
        yield self.clk.negedge
        sig["s_valid"].next = 0
        yield from self._wait_while("r_valid", False)
        res.y.append(unpack(sig["r_y"].val, cfg.n, at))
        res.e.append(unpack(sig["r_e"].val, cfg.k, at))
        res.sat.append(int(sig["sat_count"].val))
        res.steps.append(int(sig["step_count"].val))
        yield from self._wait_while("s_ready", False)
        res.cycles.append(self.cycles[0] - t_hs - 1)

    def readback(self):
        """Every word of every region, pipelined one request a cycle."""
        cfg, sig = self.cfg, self.sig
        n, k, L = cfg.n, cfg.k, cfg.L
        reqs = [(r, i, j) for r in range(k + 3) for i in range(n) for j in range(L)]
        got: list[int] = []
        pos = 0
        while len(got) < len(reqs):
            if pos < len(reqs):
                sig["m_addr"].next = self._addr(*reqs[pos])
                sig["m_re"].next = 1
                pos += 1
            else:
                sig["m_re"].next = 0
            yield self.clk.negedge
            if sig["m_rvalid"]:
                got.append(int(sig["m_rdata"].val))
        sig["m_re"].next = 0
        vals = np.array(got, dtype=np.int64).reshape(k + 3, n, L)
        return {"w": vals[0], "p_out": vals[1 : k + 1], "p_ing": vals[k + 1], "p_egr": vals[k + 2]}

    def clear(self):
        """Pulse ``clear`` (weights kept, state cleared) and wait for the sweep."""
        self.sig["clear"].next = 1
        yield self.clk.negedge
        self.sig["clear"].next = 0
        yield self.clk.negedge
        yield from self._wait_while("busy", True)


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
    from trtrl.rtl.generate import build

    inst, sig = build(cfg)
    steps = len(x)
    learn_seq = [bool(learn)] * steps if np.ndim(learn) == 0 else [bool(v) for v in learn]
    lr_seq = [int(lr_shift)] * steps if np.ndim(lr_shift) == 0 else [int(v) for v in lr_shift]
    res = SimResult()
    clk = sig["clk"]
    cyc = [0]
    host = _Host(cfg, sig, cyc)

    @always(delay(5))
    def clkgen():
        clk.next = not clk

    @instance
    def counter():
        while True:
            yield clk.posedge
            cyc[0] += 1

    out = {}

    @instance
    def driver():
        res.clear_cycles = yield from host.reset()
        yield from host.load_weights(w0, skip_zero=skip_readback)
        for t in range(steps):
            yield from host.step(x[t], d[t], learn_seq[t], lr_seq[t], res)
            due = t == steps - 1 or (readback_every and (t + 1) % readback_every == 0)
            if due and not skip_readback:
                res.readback.append((t, (yield from host.readback())))
            if clear_after is not None and t == clear_after:
                yield from host.clear()
        out["done"] = True
        raise StopSimulation

    sim = Simulation(inst, clkgen, counter, driver)
    sim.run(quiet=1)
    if hasattr(sim, "quit"):
        sim.quit()
    if not out.get("done"):
        raise RuntimeError("simulation ended before the driver finished")
    return res
