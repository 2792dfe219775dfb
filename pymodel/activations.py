"""Activation functions and their derivatives, as the spec (``docs/spec.md``) defines them.

The derivative is taken from the *output* ``y = f(s)`` (tanh: ``1 - y^2``, sigmoid:
``y (1 - y)``), exactly as the hardware does, so float and fixed-point models use
the same rule.
"""

from __future__ import annotations

import numpy as np

from trtrl.pymodel.errors import ConfigError

ACTIVATIONS = ("tanh", "sigmoid")


def check_activation(name: str) -> str:
    """Return ``name`` if it is a known activation, else raise ConfigError."""
    if name not in ACTIVATIONS:
        raise ConfigError(f"activation: unknown {name!r}, expected one of {', '.join(ACTIVATIONS)}")
    return name


def activate(name: str, s: np.ndarray) -> np.ndarray:
    """``f(s)`` for activation ``name`` (elementwise, float64 in, float64 out)."""
    check_activation(name)
    if name == "tanh":
        return np.tanh(s)
    # 1 / (1 + exp(-s)) overflows harmlessly to 0 for very negative s (exp -> inf).
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-s))


def derivative_from_y(name: str, y: np.ndarray) -> np.ndarray:
    """``f'(s)`` computed from ``y = f(s)``: tanh ``1 - y^2``, sigmoid ``y (1 - y)``."""
    check_activation(name)
    if name == "tanh":
        return 1.0 - y * y
    return y * (1.0 - y)
