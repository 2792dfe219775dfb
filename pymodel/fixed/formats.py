"""Fixed-point formats per quantity (see ``pymodel/FIXED_POINT.md``).

A :class:`FixedFormat` is a signed two's-complement ``(total, frac)`` pair; a
:class:`FixedConfig` gathers the format of every quantity plus the look-up table
and the activation, and refuses configurations the arithmetic cannot honour.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from trtrl.pymodel.errors import ConfigError

ACTIVATIONS = ("tanh", "sigmoid")

# Default formats, chosen with `trtrl experiment precision` and the train/test comparison
# of experiments/tests/test_fixed_float.py (frequency doubler, lr = 2**-5, 10000 training +
# 1000 test steps, seeds 0..3, fixed/float test-MSE ratio 0.87..1.04; Mackey-Glass seeds
# 0..1 at lr = 2**-6: 1.0 and 1.34):
# - A 16.14: activations live in (-1, 1) and errors in (-2, 2); 14 fraction bits.
# - W and P 18.14: the same 14 fraction bits as A. The weight update lr * e * p is often
#   ~2**-15 late in training; with W.frac = 12 (16.12) it rounds to 0 and learning stalls
#   (measured test MSE 1.3x..13x the float's). Four integer bits (+-8) hold the weights and
#   sensitivities the tasks reach (a few `inner` saturations on Mackey-Glass seed 1).
# - lut_bits 12 over [-8, 8): bins of 2**-8, so one look-up is off by <= 2**-9 + 2**-15;
#   with 10 bits (2**-7 error) the doubler's test MSE was up to 1.8x the float's.
# - acc_bits 40: exact forward sums for up to L = 64 columns (18 + 16 + 6). Left unset,
#   the accumulator is 40 bits or, for a wider network, the exact width its L columns
#   need (:meth:`FixedConfig.sized_for`); only a width asked for explicitly is refused.
DEFAULT_ACT = (16, 14)
DEFAULT_WEIGHT = (18, 14)
DEFAULT_SENS = (18, 14)
DEFAULT_ACC_BITS = 40
DEFAULT_LUT_BITS = 12

# Widest intermediate value the int64 model accepts: 62 bits leaves one bit of
# head-room for the rounding constant 2**(s-1) added before a shift.
INT_BITS = 62
# Widest single format: quantising a float stays exact in float64 (53-bit mantissa).
MAX_TOTAL = 48


@dataclass(frozen=True)
class FixedFormat:
    """Signed fixed point: ``total`` bits of which ``frac`` are fraction bits."""

    total: int
    frac: int

    def __post_init__(self) -> None:
        if not 2 <= self.total <= MAX_TOTAL:
            raise ConfigError(f"format {self}: total bits must be in [2, {MAX_TOTAL}]")
        if not 0 <= self.frac < self.total:
            raise ConfigError(f"format {self}: frac bits must be in [0, total)")

    @property
    def min(self) -> int:
        return -(1 << (self.total - 1))

    @property
    def max(self) -> int:
        return (1 << (self.total - 1)) - 1

    @property
    def one(self) -> int:
        return 1 << self.frac

    def __str__(self) -> str:
        return f"{self.total}.{self.frac}"

    @classmethod
    def parse(cls, text: str, name: str = "format") -> FixedFormat:
        """Parse ``"total.frac"`` (e.g. ``"16.12"``)."""
        try:
            total, frac = (int(part) for part in str(text).split("."))
        except ValueError:
            raise ConfigError(f"{name}: expected TOTAL.FRAC such as 16.12, got {text!r}") from None
        try:
            return cls(total, frac)
        except ConfigError as exc:
            raise ConfigError(f"{name}: {exc}") from None


def default_lut_range(activation: str) -> int:
    return 3 if activation == "tanh" else 4


@dataclass(frozen=True)
class FixedConfig:
    """Formats of every quantity, the activation table and the activation."""

    act: FixedFormat = field(default_factory=lambda: FixedFormat(*DEFAULT_ACT))
    weight: FixedFormat = field(default_factory=lambda: FixedFormat(*DEFAULT_WEIGHT))
    sens: FixedFormat = field(default_factory=lambda: FixedFormat(*DEFAULT_SENS))
    acc_bits: int | None = None  # None: sized for the network (see sized_for)
    lut_bits: int = DEFAULT_LUT_BITS
    lut_range: int | None = None  # None: the activation's default
    activation: str = "tanh"

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation: unknown {self.activation!r} (tanh or sigmoid)")
        if self.lut_range is None:
            object.__setattr__(self, "lut_range", default_lut_range(self.activation))
        if self.acc_bits is not None and (
            isinstance(self.acc_bits, bool) or not isinstance(self.acc_bits, int)
            or self.acc_bits < 2
        ):
            raise ConfigError(f"acc_bits: expected an integer >= 2, got {self.acc_bits!r}")
        if not 2 <= self.lut_bits <= 16:
            raise ConfigError(f"lut_bits: {self.lut_bits} outside [2, 16]")
        if self.act.total - self.act.frac < 2:
            raise ConfigError(
                f"act format {self.act}: needs 2 integer bits to hold 1.0 and errors in [-2, 2)"
            )
        if self.lut_shift < 0:
            raise ConfigError(
                f"lut_bits: {self.lut_bits} entries over +-2**{self.lut_range} need "
                f"{-self.lut_shift} more fraction bits in weight+act formats"
            )
        if not 0 <= self.lut_range <= 15:
            raise ConfigError(f"lut_range: {self.lut_range} outside [0, 15]")
        if self.weight.frac + self.sens.frac < self.act.frac:
            raise ConfigError("sens format: weight.frac + sens.frac must be >= act.frac")
        self._check_int64()

    def _check_int64(self) -> None:
        """Refuse formats whose step intermediates could overflow the int64 model.

        The widths are those of FIXED_POINT.md's step: ``y*y`` (or ``y*(ONE-y)``),
        the sensitivity sum (two weight*sensitivity products plus the shifted ``z``),
        and ``fp*inner``. The forward sum and the gradient sum depend on the network
        size and are checked by :meth:`sized_for`.
        """
        a, w, p = self.act, self.weight, self.sens
        if 2 * a.total + 1 > INT_BITS:
            raise ConfigError(
                f"act format {a}: y*(ONE-y) needs {2 * a.total + 1} bits > {INT_BITS}"
            )
        need = self.sens_acc_bits
        if need > INT_BITS:
            raise ConfigError(
                f"sens format {p}: the sensitivity sum with weight {w} "
                f"needs {need} bits > {INT_BITS}"
            )
        if a.total + p.total > INT_BITS:
            raise ConfigError(
                f"sens format {p}: fp*inner needs {a.total + p.total} bits > {INT_BITS}"
            )

    @property
    def sens_acc_bits(self) -> int:
        """Width of the exact sensitivity sum: at most two W*P products plus ``z`` shifted."""
        a, w, p = self.act, self.weight, self.sens
        shifted_z = a.total + w.frac + p.frac - a.frac
        return max(w.total + p.total, shifted_z) + 2

    def grad_bits(self, outputs: int) -> int:
        """Width of the exact gradient sum ``sum_{k<K} e_k p^k_ij`` (K = ``outputs``)."""
        return self.act.total + self.sens.total + math.ceil(math.log2(max(outputs, 1)))

    @property
    def lut_shift(self) -> int:
        """Right shift from the forward accumulator to the table index."""
        return self.weight.frac + self.act.frac - (self.lut_bits - self.lut_range - 1)

    def min_acc_bits(self, columns: int) -> int:
        """Width that holds the exact sum of ``columns`` weight*activation products.

        One bit more than ``W.total + A.total - 1 + ceil(log2 L)``: the product of the two
        most negative values, ``2**(W.total+A.total-2)``, needs ``W.total + A.total`` bits.
        """
        return self.weight.total + self.act.total - 1 + math.ceil(math.log2(max(columns, 1))) + 1

    def sized_for(self, columns: int, outputs: int | None = None) -> FixedConfig:
        """This config for a network of ``columns`` (= L) columns and ``outputs`` (= K).

        An unset accumulator becomes ``max(DEFAULT_ACC_BITS, min_acc_bits(L))``: the
        default where it suffices, else the exact width; an explicit width narrower than
        that is refused. Also refuses sizes whose forward or gradient sums would not fit
        the int64 model (``outputs = None`` takes the bound K < L).
        """
        need = self.min_acc_bits(columns)
        if need > INT_BITS:
            raise ConfigError(
                f"acc_bits: L={columns} columns need {need} bits > the model's {INT_BITS}"
            )
        if self.acc_bits is None:
            sized = replace(self, acc_bits=max(DEFAULT_ACC_BITS, need))
        elif self.acc_bits < need:
            raise ConfigError(
                f"acc_bits: {self.acc_bits} too narrow for L={columns} columns (needs {need})"
            )
        else:
            sized = self
        grad = self.grad_bits(columns if outputs is None else outputs)
        if grad > INT_BITS:
            raise ConfigError(
                f"sens format {self.sens}: the gradient sum needs {grad} bits > {INT_BITS}"
            )
        return sized

    def describe(self) -> str:
        """One line naming every format, e.g. ``A 16.14, W 18.14, P 18.14, acc 40, lut 12``."""
        acc = "auto" if self.acc_bits is None else self.acc_bits
        return (f"A {self.act}, W {self.weight}, P {self.sens}, acc {acc}, "
                f"lut {self.lut_bits}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(act=str(self.act), weight=str(self.weight), sens=str(self.sens))
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FixedConfig:
        return cls(
            act=FixedFormat.parse(d["act"], "act"),
            weight=FixedFormat.parse(d["weight"], "weight"),
            sens=FixedFormat.parse(d["sens"], "sens"),
            acc_bits=None if d["acc_bits"] is None else int(d["acc_bits"]),
            lut_bits=int(d["lut_bits"]),
            lut_range=int(d["lut_range"]),
            activation=str(d["activation"]),
        )


def default_config(activation: str = "tanh") -> FixedConfig:
    """The default formats (FIXED_POINT.md's table) for ``activation``."""
    return FixedConfig(activation=activation)
