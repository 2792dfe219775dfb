"""Paths a user types on the command line, made absolute once, where they are parsed;
and the one parser of a job count (``-j N|auto``).

Every command resolves its file and folder options (and their defaults) against the
caller's working directory at parse time, so nothing later (a simulator that changes
directory, a pytest run from the repository root) can read them against another one.
"""

from __future__ import annotations

import os
from pathlib import Path


def user_path(text: str) -> Path:
    """``text`` as an absolute path against the current directory (``~`` expanded).

    Meant as an ``argparse`` ``type=``; ``..`` is folded but symbolic links are kept,
    so messages name the path the user gave, only made absolute.
    """
    if not text:
        raise ValueError("empty path")
    return Path(os.path.abspath(os.path.expanduser(text)))


def parse_jobs(text: str) -> int:
    """``-j``/``--jobs``: a positive number, or ``auto`` for one per core."""
    from trtrl.pymodel.errors import ConfigError

    if text == "auto":
        return os.cpu_count() or 1
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise ConfigError(f"--jobs: {text!r} is not a positive number or auto")
    return jobs
