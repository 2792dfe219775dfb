"""Golden-vector files: cases (stimulus) and traces (expected outputs) as ``.npz``.

The format is fixed by ``docs/spec.md`` ("Golden-vector files"). A case holds
``x`` (T, M), ``d`` (T, K), ``w0`` (N, L) float64, ``lr`` a scalar float64 and
``algorithm`` / ``activation`` as 0-d numpy str arrays; any other key (for example
``series`` or the scaling parameters of a task) is carried along in :attr:`Case.extra`.

:func:`validate_case` is the single gate every reader goes through: it refuses a
malformed case with a :class:`~pymodel.errors.CaseError` whose one-line message
starts with the offending key. Writers use :func:`save_npz_atomic`, so a failure
never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trtrl.pymodel.errors import CaseError, TrtrlError

if TYPE_CHECKING:  # the network module is written separately; only needed for `Case.shape`
    from trtrl.pymodel.network import Shape

# The names the contract (docs/spec.md) allows; kept here so reading a file needs no model.
ALGORITHMS: tuple[str, ...] = ("rtrl", "trtrl", "snap1")
ACTIVATIONS: tuple[str, ...] = ("tanh", "sigmoid")
CASE_KEYS: tuple[str, ...] = ("x", "d", "w0", "lr", "algorithm", "activation")
TRACE_KEYS: tuple[str, ...] = ("y", "e", "w")


@dataclass
class Case:
    """One stimulus: inputs, targets, initial weights and how to learn.

    ``x`` is (T, M), ``d`` is (T, K), ``w0`` is (N, L) with ``L = M + 1 + N``, all
    float64; ``extra`` holds any other arrays of the file (task metadata).
    """

    x: np.ndarray
    d: np.ndarray
    w0: np.ndarray
    lr: float
    algorithm: str
    activation: str
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of neurons N."""
        return int(self.w0.shape[0])

    @property
    def m(self) -> int:
        """Number of external inputs M."""
        return int(self.x.shape[1])

    @property
    def k(self) -> int:
        """Number of outputs K (neurons 0..K-1)."""
        return int(self.d.shape[1])

    @property
    def steps(self) -> int:
        """Number of time steps T."""
        return int(self.x.shape[0])

    @property
    def shape(self) -> Shape:
        """The network shape ``Shape(n, m, k)``."""
        from trtrl.pymodel.network import Shape

        return Shape(self.n, self.m, self.k)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the ``.npz`` file: the six contract keys plus ``extra``."""
        arrays: dict[str, np.ndarray] = {
            key: np.asarray(value) for key, value in self.extra.items()
        }
        arrays.update(
            x=np.asarray(self.x, dtype=np.float64),
            d=np.asarray(self.d, dtype=np.float64),
            w0=np.asarray(self.w0, dtype=np.float64),
            lr=np.array(float(self.lr), dtype=np.float64),
            algorithm=np.array(str(self.algorithm)),
            activation=np.array(str(self.activation)),
        )
        return arrays


def _real_matrix(arrays: Mapping[str, Any], key: str, what: str) -> np.ndarray:
    """``arrays[key]`` as a finite 2-d float64 array, or a CaseError naming ``key``."""
    try:
        value = np.asarray(arrays[key])
    except KeyError:
        raise CaseError(f"{key}: missing key (a case needs {', '.join(CASE_KEYS)})") from None
    if value.dtype.kind not in "biuf":
        raise CaseError(f"{key}: expected a real numeric array, got dtype {value.dtype}")
    if value.ndim != 2:
        raise CaseError(f"{key}: expected a 2-d {what} array, got shape {value.shape}")
    value = value.astype(np.float64)
    bad = np.argwhere(~np.isfinite(value))
    if bad.size:
        index = tuple(int(i) for i in bad[0])
        raise CaseError(f"{key}: non-finite value {value[index]} at index {index}")
    return value


def _scalar_str(arrays: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    try:
        value = np.asarray(arrays[key])
    except KeyError:
        raise CaseError(f"{key}: missing key (a case needs {', '.join(CASE_KEYS)})") from None
    if value.ndim != 0 or value.dtype.kind not in "US":
        raise CaseError(f"{key}: expected a scalar string, got {value.dtype} shape {value.shape}")
    text = value.item()
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if text not in allowed:
        raise CaseError(f"{key}: unknown {text!r} (expected {' or '.join(allowed)})")
    return text


def _scalar_lr(arrays: Mapping[str, Any]) -> float:
    try:
        value = np.asarray(arrays["lr"])
    except KeyError:
        raise CaseError(f"lr: missing key (a case needs {', '.join(CASE_KEYS)})") from None
    if value.ndim != 0 or value.dtype.kind not in "iuf":
        raise CaseError(f"lr: expected a scalar number, got {value.dtype} shape {value.shape}")
    lr = float(value)
    if not np.isfinite(lr):
        raise CaseError(f"lr: non-finite value {lr}")
    if lr < 0:
        raise CaseError(f"lr: must be >= 0, got {lr}")
    return lr


def validate_case(arrays: Mapping[str, Any]) -> Case:
    """Check every rule of the case format and return the :class:`Case`.

    Refused (``CaseError``, message starting with the key): a missing key; ``x``,
    ``d`` or ``w0`` not a real 2-d array; no steps (T = 0); ``d`` with a different T
    than ``x``; N < 1 or K < 1; K > N; ``w0`` with ``L != M + 1 + N`` columns; a
    non-finite number; ``lr`` not a finite scalar >= 0; an unknown algorithm or
    activation. Keys beyond the six of the contract go to :attr:`Case.extra`.
    """
    x = _real_matrix(arrays, "x", "(T, M)")
    d = _real_matrix(arrays, "d", "(T, K)")
    w0 = _real_matrix(arrays, "w0", "(N, L)")
    steps, m = x.shape
    if steps < 1:
        raise CaseError("x: no time steps (T = 0)")
    if d.shape[0] != steps:
        raise CaseError(f"d: has T={d.shape[0]} rows but x has T={steps}")
    n, cols = w0.shape
    k = d.shape[1]
    if n < 1:
        raise CaseError("w0: no neurons (N = 0 rows)")
    if k < 1:
        raise CaseError("d: no outputs (K = 0 columns)")
    if k > n:
        raise CaseError(f"d: K={k} outputs but only N={n} neurons (K must be <= N)")
    if cols != m + 1 + n:
        raise CaseError(f"w0: has L={cols} columns but M + 1 + N = {m} + 1 + {n} = {m + 1 + n}")
    lr = _scalar_lr(arrays)
    algorithm = _scalar_str(arrays, "algorithm", ALGORITHMS)
    activation = _scalar_str(arrays, "activation", ACTIVATIONS)
    extra = {key: np.asarray(arrays[key]) for key in arrays if key not in CASE_KEYS}
    return Case(x=x, d=d, w0=w0, lr=lr, algorithm=algorithm, activation=activation, extra=extra)


def _load_npz(path: str | os.PathLike[str], what: str) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` archive, or a TrtrlError (CaseError) naming the path."""
    path = Path(path)
    if not path.is_file():
        raise CaseError(f"{path}: no such {what} file")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise CaseError(f"{path}: not an .npz archive (a bare .npy array)")
        with data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CaseError(f"{path}: cannot read as an .npz {what} ({reason})") from None


def load_case(path: str | os.PathLike[str]) -> Case:
    """Read and validate a case file (missing, unreadable or non-npz: CaseError)."""
    return validate_case(_load_npz(path, "case"))


def save_case(path: str | os.PathLike[str], case: Case) -> None:
    """Validate ``case`` and write it atomically to ``path``."""
    arrays = case.to_arrays()
    validate_case(arrays)
    save_npz_atomic(path, **arrays)


def save_npz_atomic(path: str | os.PathLike[str], **arrays: Any) -> None:
    """Write ``arrays`` to ``path`` as an (uncompressed) ``.npz`` file, atomically.

    The data go to a temporary file in the destination folder (created if needed),
    which is then renamed over ``path``; on any failure the temporary file is removed
    and nothing appears at ``path``. An ``OSError`` becomes a one-line TrtrlError.
    """
    path = Path(path)
    tmp_name: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        # A file object, not a name: np.savez would otherwise append ".npz" to the name.
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        raise TrtrlError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


def load_trace(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a trace file: a dict of its arrays; ``y``, ``e`` and ``w`` must be present.

    A trace without ``w_step`` (written by an outside tool) gets ``w_step = 0..T-1``
    when ``w`` holds every step.
    """
    arrays = _load_npz(path, "trace")
    for key in TRACE_KEYS:
        if key not in arrays:
            raise CaseError(f"{key}: missing key in trace {path} (a trace needs y, e, w)")
    if "w_step" not in arrays and arrays["w"].ndim >= 1:
        if arrays["w"].shape[0] == arrays["y"].shape[0]:
            arrays["w_step"] = np.arange(arrays["y"].shape[0], dtype=np.int64)
    return arrays
