"""Fixed-point formats per quantity (see ``pymodel/FIXED_POINT.md``).

A :class:`FixedFormat` is a signed two's-complement ``(total, frac)`` pair; a
:class:`FixedConfig` gathers the format of every quantity plus the look-up table
and the activation, and refuses configurations the arithmetic cannot honour.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from pymodel.errors import ConfigError

ACTIVATIONS = ("tanh", "sigmoid")


@dataclass(frozen=True)
class FixedFormat:
    """Signed fixed point: ``total`` bits of which ``frac`` are fraction bits."""

    total: int
    frac: int

    def __post_init__(self) -> None:
        if self.total < 2:
            raise ConfigError(f"format {self}: total bits must be >= 2")
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

    act: FixedFormat = field(default_factory=lambda: FixedFormat(16, 14))
    weight: FixedFormat = field(default_factory=lambda: FixedFormat(16, 12))
    sens: FixedFormat = field(default_factory=lambda: FixedFormat(16, 12))
    acc_bits: int = 40
    lut_bits: int = 10
    lut_range: int | None = None  # None: the activation's default
    activation: str = "tanh"

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation: unknown {self.activation!r} (tanh or sigmoid)")
        if self.lut_range is None:
            object.__setattr__(self, "lut_range", default_lut_range(self.activation))
        if not 2 <= self.lut_bits <= 16:
            raise ConfigError(f"lut_bits: {self.lut_bits} outside [2, 16]")
        if self.act.total - self.act.frac < 2:
            raise ConfigError(f"act format {self.act}: needs 2 integer bits to hold 1.0 and errors in [-2, 2)")
        if self.lut_shift < 0:
            raise ConfigError(
                f"lut_bits: {self.lut_bits} entries over +-2**{self.lut_range} need "
                f"{-self.lut_shift} more fraction bits in weight+act formats"
            )
        if self.weight.frac + self.sens.frac < self.act.frac:
            raise ConfigError("sens format: weight.frac + sens.frac must be >= act.frac")

    @property
    def lut_shift(self) -> int:
        """Right shift from the forward accumulator to the table index."""
        return self.weight.frac + self.act.frac - (self.lut_bits - self.lut_range - 1)

    def min_acc_bits(self, columns: int) -> int:
        """Width that holds the exact sum of ``columns`` weight*activation products."""
        return self.weight.total + self.act.total - 1 + math.ceil(math.log2(max(columns, 1))) + 1

    def check_columns(self, columns: int) -> None:
        """Refuse an accumulator too narrow for ``columns`` (= L) products."""
        need = self.min_acc_bits(columns)
        if self.acc_bits < need:
            raise ConfigError(f"acc_bits: {self.acc_bits} too narrow for L={columns} columns (needs {need})")

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
            acc_bits=int(d["acc_bits"]),
            lut_bits=int(d["lut_bits"]),
            lut_range=int(d["lut_range"]),
            activation=str(d["activation"]),
        )
