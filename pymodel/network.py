"""Network geometry shared by every model: sizes, column layout, validation.

The column layout is that of ``docs/spec.md``: ``z = [x_0 .. x_{M-1}, 1, y_0 .. y_{N-1}]``, so
``L = M + 1 + N`` and neuron ``l`` drives column ``M + 1 + l``. Keeping it in one
place means the float models, the fixed-point model and the RTL agree on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from trtrl.pymodel.errors import ConfigError


@dataclass(frozen=True)
class Shape:
    """Sizes of a network: ``n`` neurons, ``m`` external inputs, ``k`` outputs."""

    n: int
    m: int
    k: int

    @property
    def L(self) -> int:
        """Number of weight columns, ``M + 1 + N`` (inputs, bias, recurrent)."""
        return self.m + 1 + self.n

    def col(self, neuron: int) -> int:
        """Column of ``z`` (and of ``W``) driven by ``neuron``: ``M + 1 + neuron``."""
        return self.m + 1 + neuron

    def validate(self) -> Shape:
        """Refuse impossible sizes with a one-line ConfigError naming the parameter.

        Returns ``self`` so that callers can write ``Shape(...).validate()``.
        """
        if self.n < 1:
            raise ConfigError(f"n: need at least one neuron, got {self.n}")
        if self.m < 0:
            raise ConfigError(f"m: number of inputs must be >= 0, got {self.m}")
        if self.k < 1:
            raise ConfigError(f"k: need at least one output, got {self.k}")
        if self.k > self.n:
            raise ConfigError(f"k: outputs ({self.k}) cannot exceed neurons n={self.n}")
        return self
