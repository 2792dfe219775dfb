"""Shared helpers for experiment report folders.

An experiment writes PNG plots, CSV tables, a ``report.md`` and a ``report.json``
(seeds, settings, versions, results) into one folder. :func:`atomic_folder` builds
that folder under a temporary name next to the destination and renames it into place
only when everything succeeded, so a failure never leaves a half-written report.
Plots use matplotlib's non-interactive Agg backend (no display needed).
"""

from __future__ import annotations

import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from trtrl.pymodel.errors import TrtrlError


@contextmanager
def atomic_folder(dest: str | os.PathLike[str], overwrite: bool = True) -> Iterator[Path]:
    """Yield a fresh temporary folder that becomes ``dest`` when the block succeeds.

    The temporary folder is a sibling of ``dest`` (same file system, so the final
    rename is atomic). On an exception it is deleted and ``dest`` is left untouched.
    An existing ``dest`` is replaced if ``overwrite`` (it is moved aside first and
    only deleted once the new folder is in place), else refused with a TrtrlError.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise TrtrlError(f"output: {dest} exists and is not a folder")
    if dest.exists() and not overwrite:
        raise TrtrlError(f"output: {dest} already exists")
    parent = dest.parent if str(dest.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrtrlError(f"output: cannot create {parent}: {exc.strerror}") from exc
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old: Path | None = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=parent))
        old.rmdir()
        dest.rename(old)
    tmp.chmod(0o755)  # mkdtemp makes it private; a report folder is ordinary
    tmp.rename(dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def fmt_num(value: Any, digits: int = 4) -> str:
    """Format a number for a table: ints as is, floats with ``digits`` significant digits."""
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not np.isfinite(v):
            return str(v)
        return f"{v:.{digits}g}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 4) -> str:
    """A GitHub-flavoured markdown table; numbers go through :func:`fmt_num`."""
    def cell(v: Any) -> str:
        return fmt_num(v, digits).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells, header has {len(headers)}")
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_csv(path: str | os.PathLike[str], headers: Sequence[str],
              rows: Sequence[Sequence[Any]]) -> Path:
    """Write ``rows`` under ``headers`` as CSV (floats at full precision)."""
    path = Path(path)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        for row in rows:
            writer.writerow([plain(v) for v in row])
    return path


def plain(value: Any) -> Any:
    """Numpy scalars and arrays to plain Python values (for CSV and JSON)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)  # JSON has no inf/nan
    return value


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON (numpy values made plain), atomically.

    The text goes to a temporary file beside ``path`` that is renamed over it, so a
    failure leaves no partial file; parent folders are created.
    """
    path = Path(path)
    text = json.dumps(plain(obj), indent=2, sort_keys=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is ordinary
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _git_commit() -> str | None:
    """The repository's HEAD commit (with ``+dirty`` if modified), or None outside git."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def environment_info() -> dict[str, Any]:
    """Versions and machine facts worth recording beside measured numbers."""
    import matplotlib

    info: dict[str, Any] = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "git_commit": _git_commit(),
    }
    try:
        import tqdm

        info["tqdm"] = tqdm.__version__
    except ImportError:  # progress bars are optional
        pass
    if hasattr(os, "getloadavg"):  # other work on the machine inflates timings
        info["load_average_1min"] = round(os.getloadavg()[0], 2)
    # BLAS threading / core-type settings change timings; record them, never change them.
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                "MKL_NUM_THREADS"):
        if var in os.environ:
            info[var] = os.environ[var]
    return info


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (safe without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 110) -> Path:
    """Save ``fig`` as PNG and close it (keeps memory flat across many plots)."""
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average; the first ``window - 1`` points average what exists.

    Same length as ``values`` so it can be plotted against the step index.
    """
    values = np.asarray(values, dtype=np.float64)
    window = max(1, min(int(window), len(values)))
    csum = np.cumsum(np.concatenate(([0.0], values)))
    out = np.empty_like(values)
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    out[:] = (csum[idx] - csum[lo]) / (idx - lo)
    return out


def progress(total: int, desc: str, enabled: bool = True) -> Any:
    """A tqdm progress bar on stderr (a no-op object if tqdm is missing or disabled)."""
    try:
        from tqdm import tqdm
    except ImportError:
        enabled = False
    if not enabled:
        return _NoProgress()
    return tqdm(total=total, desc=desc, unit="job", leave=False, dynamic_ncols=True)


class _NoProgress:
    """Stand-in for a tqdm bar when progress output is off."""

    def update(self, n: int = 1) -> None:
        """Ignore progress."""

    def set_postfix_str(self, s: str) -> None:
        """Ignore the status text."""

    def close(self) -> None:
        """Nothing to close."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
