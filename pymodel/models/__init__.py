"""Float64 reference models of RTRL, TRTRL and SnAp-1 behind one factory."""

from __future__ import annotations

import numpy as np

from trtrl.pymodel.errors import ConfigError
from trtrl.pymodel.models.base import OnlineModel, kept_steps
from trtrl.pymodel.models.rtrl import RTRLModel
from trtrl.pymodel.models.snap1 import SnAp1Model
from trtrl.pymodel.models.trtrl import TRTRLModel

ALGORITHMS = ("rtrl", "trtrl", "snap1")

_CLASSES: dict[str, type[OnlineModel]] = {
    "rtrl": RTRLModel,
    "trtrl": TRTRLModel,
    "snap1": SnAp1Model,
}

__all__ = [
    "ALGORITHMS",
    "OnlineModel",
    "RTRLModel",
    "SnAp1Model",
    "TRTRLModel",
    "kept_steps",
    "kernels_of",
    "make_model",
]


def kernels_of(algorithm: str) -> tuple[str, ...]:
    """The kernels ``algorithm``'s model has, its default first (pymodel/jit.py)."""
    if algorithm not in _CLASSES:
        raise ConfigError(
            f"algorithm: unknown {algorithm!r}, expected one of {', '.join(ALGORITHMS)}"
        )
    return _CLASSES[algorithm].kernels


def make_model(
    algorithm: str,
    w0: np.ndarray,
    m: int,
    k: int,
    lr: float,
    activation: str = "tanh",
    kernel: str | None = None,
) -> OnlineModel:
    """Build the float64 model of ``algorithm`` from initial weights ``w0`` (N, L).

    ``N`` is taken from ``w0.shape[0]``; ``L == M + 1 + N`` is checked (ConfigError
    naming ``w0``), as are ``k`` and ``activation``. ``kernel`` picks the step's
    implementation (None: the algorithm's default, numba for TRTRL; "numpy" is the
    reference, and the only one RTRL and SnAp-1 have).
    """
    if algorithm not in _CLASSES:
        raise ConfigError(
            f"algorithm: unknown {algorithm!r}, expected one of {', '.join(ALGORITHMS)}"
        )
    return _CLASSES[algorithm](w0, m, k, lr, activation, kernel)
