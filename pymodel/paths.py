"""Paths a user types on the command line, made absolute once, where they are parsed.

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
