"""Functional coverage: what a run asked of the hardware, counted in named bins.

The testbenches fill one :class:`FunctionalCoverage` per run from the configuration,
the stimulus (learning on or off, the learning-rate shift of each step), what the AXI
testbenches do at the bus (responses, stream pauses, soft reset, a short packet) and the
fixed-point model, which counts after each step where every clamp's values lay before
clamping (``FixedTRTRL.observer``, the step's clamp census): for each clamped quantity,
how many values went past each bound and how many landed exactly on it (where clamping
changes nothing, but a comparison written one off would count an event). The run's
result JSON holds the bins (``funcov``); ``trtrl regress`` sums them over the regression
and lists the bins no run reached (the holes).

Plain dictionaries rather than cocotb-coverage's coverage database: a run is a separate
simulator process, and the counts travel in the result JSON the runner already collects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from trtrl.pymodel.fixed.arith import SIDES
from trtrl.pymodel.fixed.model import CLAMPS as CENSUS_ROWS
from trtrl.rtl.config import ArrayConfig
from trtrl.rtl.regmap import ERRORS, EXAMPLE, access_error, register_map

# The model's clamps (pymodel/fixed/model.py) and the sides (arith.SIDES) each can reach.
# Not f'(y)'s: y is a table value in f's range, so f'(y) lies in [0, 1], strictly inside
# format A. A sensitivity f'(y) * inner, with 0 <= f'(y) <= 1, never leaves its clamped
# inner sum's range, so only lands on P's bounds (test_funcov.py shows both over every
# table entry).
CLAMPS = {"p_inner": SIDES, "p": ("at max", "at min"), "e": SIDES, "w": SIDES}
# (row, column) of each clamp bin in the model's census
_CENSUS_BINS = tuple((CENSUS_ROWS.index(q), SIDES.index(side), f"{q} {side}")
                     for q, sides in CLAMPS.items() for side in sides)
# The register map names the same registers, fields and windows for every array
# (rtl/regmap.py); the bins come from the documented example's.
_RMAP = register_map(ArrayConfig(*EXAMPLE))
# One bin per learning-rate shift CONTROL.LR_SHIFT takes: every one is a legal rate (the
# gradient shift A.frac + P.frac - W.frac + LR_SHIFT stays far inside the model's 62 bits
# for the formats of the regression).
LR_SHIFTS = range(1 << _RMAP.register("CONTROL").field("LR_SHIFT").width)
CONFIG_BINS = ("N = 1", "N 2..9", "N >= 10", "M = 0", "M >= 1", "K = N", "K < N",
               "P < N", "P = N", "tanh", "sigmoid")
# what the AXI testbenches do at the bus (the core's own testbench reaches none of these)
INTERFACE_BINS = ("AXI4-Lite read OKAY", "AXI4-Lite write OKAY", "AXI4-Lite SLVERR",
                  "AXI4-Lite DECERR", "sample stream idle cycles",
                  "result stream backpressure", "soft reset during a step",
                  "sample packet one beat short", "clear between steps",
                  "ARESETN during a step")


def _family(name: str) -> str:
    """A window's bin: SENS_OUT0 .. SENS_OUT<K-1> (one window per output) are one."""
    return re.sub(r"\d+$", "", name)


def access_bin(op: str, name: str) -> str:
    """The ``registers`` bin of a legal ``op`` (read, write) of a register or window."""
    return f"{op} {_family(name)}"


def error_bin(op: str, kind: str) -> str:
    """The ``registers`` bin of an illegal ``op`` of ``kind`` (:data:`regmap.ERRORS`)."""
    return f"{op}: {kind} -> {access_error(kind).resp}"


def _register_bins() -> tuple[str, ...]:
    """Every register read and (unless read-only) written, every window (the outputs'
    as one), every kind of illegal access of the register description."""
    legal = [*_RMAP.registers, *_RMAP.windows]
    names = dict.fromkeys(access_bin(op, r.name) for r in legal
                          for op in ("read", "write") if op == "read" or r.access != "ro")
    return (*names, *(error_bin(op, e.kind) for e in ERRORS for op in e.ops))


def bin_names() -> dict[str, tuple[str, ...]]:
    """Every bin, by group: what a complete regression must reach."""
    return {
        "config": CONFIG_BINS,
        "learning": ("learn on", "learn off", "learn switched in a run",
                     *(f"lr_shift {s}" for s in LR_SHIFTS)),
        "clamps": tuple(f"{q} {side}" for q, sides in CLAMPS.items() for side in sides),
        "interface": INTERFACE_BINS,
        "registers": _register_bins(),
    }


class FunctionalCoverage:
    """The bins of one run (counts: steps, or clamp evaluations, that hit each)."""

    def __init__(self) -> None:
        self.bins: dict[str, dict[str, int]] = {g: dict.fromkeys(names, 0)
                                                for g, names in bin_names().items()}
        self._last_learn: bool | None = None

    @classmethod
    def for_design(cls, man: Any) -> FunctionalCoverage:
        """A run's coverage with its design's configuration bins (``man``: a Manifest)."""
        cov = cls()
        cov.config(man.n, man.m, man.k, man.details.get("lanes", man.n), man.fixed.activation)
        return cov

    def config(self, n: int, m: int, k: int, lanes: int, activation: str) -> None:
        hits = ["N = 1" if n == 1 else "N 2..9" if n < 10 else "N >= 10",
                "M = 0" if m == 0 else "M >= 1", "K = N" if k == n else "K < N",
                "P = N" if lanes == n else "P < N", activation]
        for name in hits:
            self.bins["config"][name] += 1

    def step(self, learn: bool, lr_shift: int) -> None:
        g = self.bins["learning"]
        g["learn on" if learn else "learn off"] += 1
        if self._last_learn is not None and learn != self._last_learn:
            g["learn switched in a run"] += 1
        self._last_learn = learn
        if learn:
            g[f"lr_shift {lr_shift}"] += 1

    def hit(self, group: str, name: str, times: int = 1) -> None:
        """Count ``times`` hits of bin ``name`` of ``group`` (a name it does not define is an
        error: a typo must not pass as a hole)."""
        if name not in self.bins[group]:
            raise KeyError(f"functional coverage: no bin {name!r} in group {group!r}")
        self.bins[group][name] += times

    def clamp(self, census: np.ndarray) -> None:
        """The model's observer: a step's clamp census (``FixedTRTRL.observer``)."""
        counts = census.tolist()  # Python ints: one conversion, not one per bin
        bins = self.bins["clamps"]
        for row, col, name in _CENSUS_BINS:
            bins[name] += counts[row][col]

    def to_json(self) -> dict[str, dict[str, int]]:
        return {g: dict(b) for g, b in self.bins.items()}


def merge(runs: Iterable[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    """Bins summed over runs (every defined bin present, zero if no run reached it)."""
    total = {g: dict.fromkeys(names, 0) for g, names in bin_names().items()}
    for run in runs:
        for g, bins in run.items():
            for name, count in bins.items():
                if name in total.get(g, {}):
                    total[g][name] += int(count)
    return total


def summary(merged: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Per group: bins reached of bins defined, and the holes."""
    out: dict[str, Any] = {}
    for g, bins in merged.items():
        holes = [name for name, count in bins.items() if count == 0]
        out[g] = {"reached": len(bins) - len(holes), "bins": len(bins), "holes": holes}
    return out


def table(merged: dict[str, dict[str, int]]) -> str:
    """One line per group (reached / defined) and its holes."""
    lines = []
    for g, s in summary(merged).items():
        holes = ", ".join(s["holes"]) if s["holes"] else "none"
        lines.append(f"  {g}: {s['reached']}/{s['bins']} bins; holes: {holes}")
    return "\n".join(lines)
