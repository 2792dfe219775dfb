"""Bit-for-bit comparison of the neuron array against the fixed-point reference model.

The :class:`Scoreboard` knows nothing about cocotb: the testbench hands it raw integers
read from the DUT (outputs every step, weights and sensitivities at checkpoints) and the
reference model's values. At the first step that differs it raises
:class:`ScoreboardMismatch`, whose message names the step, the quantity and its index,
expected and got (raw integer and fixed-point value), the simulation time and cycle of
that step and the waveform window to open. Later steps would only repeat the first
divergence, so the run stops there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MISMATCH_TAG = "SCOREBOARD MISMATCH"
# An X or Z bit on a DUT output or a read-back word (the testbench raises it, not the
# scoreboard, which compares integers only).
XPROP_TAG = "X/Z ON A DUT OUTPUT"
MAX_LISTED = 8  # further differing elements of the same step are counted, not listed


@dataclass(frozen=True)
class Fmt:
    """Just enough of a fixed-point format to print a raw value: ``total.frac``."""

    total: int
    frac: int

    def show(self, raw: int) -> str:
        return f"{raw} ({raw / (1 << self.frac):+.6f} in {self.total}.{self.frac})"


INT = Fmt(64, 0)  # counters: printed as plain integers


@dataclass
class Mismatch:
    """One differing element."""

    step: int
    quantity: str
    index: tuple[int, ...]
    expected: int
    got: int
    fmt: Fmt

    def describe(self) -> str:
        idx = ",".join(str(i) for i in self.index)
        where = f"{self.quantity}[{idx}]" if idx else self.quantity
        if self.fmt is INT:
            return f"{where}: expected {self.expected}, got {self.got}"
        return f"{where}: expected {self.fmt.show(self.expected)}, got {self.fmt.show(self.got)}"


class ScoreboardMismatch(AssertionError):
    """The DUT differs from the reference model; the message says where and when."""


@dataclass
class StepTiming:
    """When a step ran: handshake and result times (ns) and clock cycles."""

    start_ns: float
    end_ns: float
    start_cycle: int
    end_cycle: int


@dataclass
class Scoreboard:
    """Compare a DUT with the fixed-point reference model, step by step.

    ``clock_ns`` converts cycles to simulation time for the waveform window;
    ``waves_hint`` (e.g. "rerun with --waves") is appended to failure messages.
    """

    clock_ns: float = 10.0
    waves_hint: str = ""
    checked_steps: int = 0
    checked_values: int = 0
    checkpoints: int = 0
    timings: dict[int, StepTiming] = field(default_factory=dict)

    def note_timing(self, step: int, timing: StepTiming) -> None:
        # only the last few are needed for a failure window; keep memory bounded
        self.timings[step] = timing
        self.timings.pop(step - 3, None)

    def _window(self, step: int) -> str:
        t = self.timings.get(step)
        if t is None:
            return ""
        prev = self.timings.get(step - 1)
        lo = prev.start_ns if prev is not None else max(0.0, t.start_ns - 4 * self.clock_ns)
        hi = t.end_ns + 4 * self.clock_ns
        return (
            f" at t={t.end_ns:.0f} ns (cycle {t.end_cycle}; step began at t={t.start_ns:.0f} ns, "
            f"cycle {t.start_cycle}); waveform window {lo:.0f} ns .. {hi:.0f} ns"
        )

    def compare(
        self,
        step: int,
        quantity: str,
        expected: Any,
        got: Any,
        fmt: Fmt,
        when: str = "",
    ) -> None:
        """Compare two equally shaped integer arrays; raise on the first difference."""
        exp = np.asarray(expected, dtype=np.int64)
        gotv = np.asarray(got, dtype=np.int64)
        if exp.shape != gotv.shape:
            raise ScoreboardMismatch(
                f"{MISMATCH_TAG} at step {step}: {quantity} has shape {gotv.shape}, "
                f"expected {exp.shape}"
            )
        self.checked_values += exp.size
        # np.argwhere of a 0-d array has no columns (size 0 even when the values differ),
        # so a counter is compared as the one-element array it is
        diff = np.argwhere(exp != gotv) if exp.ndim else np.zeros((int(exp != gotv), 0), int)
        if len(diff) == 0:
            return
        found = [
            Mismatch(step, quantity, tuple(int(i) for i in idx), int(exp[tuple(idx)]),
                     int(gotv[tuple(idx)]), fmt)
            for idx in diff[:MAX_LISTED]
        ]
        self.fail(step, found, len(diff), when)

    def fail(
        self, step: int, found: list[Mismatch], total: int | None = None, when: str = ""
    ) -> None:
        """Raise :class:`ScoreboardMismatch` for ``found`` (the first is the headline)."""
        total = len(found) if total is None else total
        first = found[0]
        lines = [
            f"{MISMATCH_TAG}: first divergence at step {step}{when}: {first.describe()}"
            f"{self._window(step)}"
        ]
        if total > 1:
            lines.append(f"  {total} elements of {first.quantity} differ at this step; first ones:")
            lines += [f"    {m.describe()}" for m in found[1:]]
        if self.waves_hint:
            lines.append(f"  waveform: {self.waves_hint}")
        raise ScoreboardMismatch("\n".join(lines))

    def check_outputs(
        self,
        step: int,
        exp_y: Any,
        got_y: Any,
        exp_e: Any,
        got_e: Any,
        fmt_a: Fmt,
    ) -> None:
        """``r_y`` and ``r_e`` of one step."""
        self.compare(step, "r_y", exp_y, got_y, fmt_a)
        self.compare(step, "r_e", exp_e, got_e, fmt_a)
        self.checked_steps += 1

    def check_output_batch(self, first: int, exp_y: Any, got_y: Any, exp_e: Any, got_e: Any,
                           fmt_a: Fmt) -> None:
        """Steps ``first ..`` at once (arrays of steps x N and steps x K): one comparison;
        on a difference, the step-by-step check from the first differing step, so the
        message is the one :meth:`check_outputs` gives."""
        ey, gy = np.asarray(exp_y, dtype=np.int64), np.asarray(got_y, dtype=np.int64)
        ee, ge = np.asarray(exp_e, dtype=np.int64), np.asarray(got_e, dtype=np.int64)
        if ey.shape == gy.shape and ee.shape == ge.shape and np.array_equal(ey, gy) \
                and np.array_equal(ee, ge):
            self.checked_values += ey.size + ee.size
            self.checked_steps += len(ey)
            return
        for i in range(len(ey)):
            self.check_outputs(first + i, ey[i], gy[i], ee[i], ge[i], fmt_a)
        raise AssertionError("check_output_batch: arrays differ but no step does")  # shapes

    def check_state(
        self,
        step: int,
        expected: dict[str, Any],
        got: dict[str, Any],
        fmts: dict[str, Fmt],
    ) -> None:
        """Weights, sensitivities and counters read back after ``step``."""
        for name in expected:
            self.compare(step, name, expected[name], got[name], fmts.get(name, INT),
                         when=" (memory read-back after the step)")
        self.checkpoints += 1


COUNTER_MAX = (1 << 32) - 1  # step_count and sat_count stop there


def state_formats(man: Any) -> dict[str, Fmt]:
    """How each read-back quantity of a manifest's array prints (for mismatch messages)."""
    f = man.fixed
    p = Fmt(f.sens.total, f.sens.frac)
    return {"w": Fmt(f.weight.total, f.weight.frac), "p_out": p, "p_ing": p, "p_egr": p,
            "step_count": INT, "sat_count": INT}


def expected_state(model: Any, steps: int) -> dict[str, np.ndarray]:
    """What a checkpoint reads back after ``steps`` steps of the fixed-point model."""
    return {"w": model.w, "p_out": model.p_out, "p_ing": model.p_ing, "p_egr": model.p_egr,
            "step_count": np.array(steps),
            "sat_count": np.array(min(int(model.sat_count), COUNTER_MAX))}
