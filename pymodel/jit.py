"""Compiled step kernels: the choice between numba and the NumPy reference, and the JIT.

A model whose step is many small NumPy calls (TRTRL at N ~ 100 is ~30 calls on ~N*L
elements) spends most of it in per-call overhead. Such a model also has a numba
kernel: one compiled function doing the same arithmetic in the same order, so its
results equal the NumPy path's bit for bit (the tests check it). The NumPy path stays
the reference; a model's ``kernel`` argument picks one of :data:`KERNELS`. A kernel
module imports numba (~0.2 s), so a model imports its kernel module only when it is made
with the numba kernel: importing the models, or a `trtrl` command that makes none, does
not pay for it.

Compiled code is cached on disk (``cache=True``): numba writes it into the
``__pycache__`` beside the module, or, where that is not writable (a read-only
install), into a per-user cache directory (``NUMBA_CACHE_DIR`` if set). Where no
cache location can be used at all, :func:`jit` compiles without caching instead of
failing: the kernel then costs its compile time (a few seconds) once per process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from trtrl.pymodel.errors import ConfigError

KERNELS = ("numba", "numpy")
DEFAULT_KERNEL = "numba"

F = TypeVar("F", bound=Callable[..., Any])


def check_kernel(kernel: str) -> str:
    """``kernel`` if it is one of :data:`KERNELS`; ConfigError naming it otherwise."""
    if kernel not in KERNELS:
        raise ConfigError(f"kernel: unknown {kernel!r}, expected one of {', '.join(KERNELS)}")
    return kernel


def jit(fn: F) -> F:
    """``numba.njit(cache=True)``, or without the cache where numba finds nowhere to keep it.

    No ``fastmath``: float operations stay IEEE, unfused and in source order, which is
    what lets a float kernel match NumPy bit for bit.
    """
    import numba

    try:
        return numba.njit(cache=True)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available for file ..."
        return numba.njit(cache=False)(fn)
