"""The design under test: the port check of a Verilog file, and generated RTL cached per
configuration and generator version (shared by parallel pytest workers)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from trtrl.pymodel.errors import TrtrlError
from trtrl.rtl.config import AXI_TOP, PORTS, TOP
from trtrl.testbenches.configs import TbConfig

REPO = Path(__file__).resolve().parent.parent
BUILD_ROOT = Path(os.environ.get("TRTRL_TB_BUILD", REPO / "build" / "tb"))
# Ports every DUT must have: the array's (rtl/config.py); widths come from the manifest.
REQUIRED_PORTS = PORTS


def interface_ports(interface: str) -> tuple[str, ...]:
    """The port names a DUT of ``interface`` (``trtrl_array`` or ``trtrl_axi``) must have."""
    if interface == AXI_TOP:
        from trtrl.rtl.config import ArrayConfig
        from trtrl.rtl.shell import axi_ports

        return tuple(axi_ports(ArrayConfig(1, 0, 1)))
    return PORTS


# -- ports ------------------------------------------------------------------------------
def check_ports(verilog: Path, top: str, interface: str = TOP) -> None:
    """Refuse a Verilog file whose module ``top`` lacks a port of the interface.

    A quick textual parse (module header and port declarations), enough to give a
    one-line error before a simulator prints pages of its own.
    """
    if not verilog.is_file():
        raise TrtrlError(f"{verilog}: no such file")
    text = re.sub(r"//[^\n]*|/\*.*?\*/", "", verilog.read_text(errors="replace"), flags=re.S)
    match = re.search(rf"\bmodule\s+{re.escape(top)}\b(.*?)\bendmodule\b", text, flags=re.S)
    if match is None:
        names = re.findall(r"\bmodule\s+(\w+)", text)
        found = f" (modules found: {', '.join(names)})" if names else ""
        raise TrtrlError(f"{verilog}: no module {top!r}{found}; give --top NAME")
    body = match.group(1)
    declared = set(re.findall(r"\b(?:input|output|inout)\b[^;,)]*?(\w+)\s*(?=[;,)=])", body))
    # also the names in a non-ANSI header "module x (a, b, c);"
    header = re.match(r"\s*(?:#\s*\(.*?\)\s*)?\((.*?)\)\s*;", body, flags=re.S)
    if header:
        declared |= set(re.findall(r"(\w+)\s*(?:,|$)", header.group(1)))
    missing = [p for p in interface_ports(interface) if p not in declared]
    if missing:
        raise TrtrlError(
            f"{verilog}: module {top} lacks port(s) {', '.join(missing)} of the {interface} "
            f"interface (rtl/README.md)"
        )


# -- generated RTL ----------------------------------------------------------------------
def generate_rtl(cfg: TbConfig, out_dir: Path) -> tuple[Path, Path]:
    """Verilog and manifest of a configuration, from ``rtl.generate``."""
    try:
        from trtrl.rtl import config as rtl_config
        from trtrl.rtl import generate as rtl_generate
    except ImportError as exc:  # the RTL generator is not in this tree
        raise TrtrlError(f"rtl.generate is not available ({exc}); use --rtl FILE.v") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    array = rtl_config.ArrayConfig(n=cfg.n, m=cfg.m, k=cfg.k, fixed=cfg.fixed(),
                                   lanes=cfg.lanes)
    verilog, manifest = rtl_generate.generate(array, out_dir, cfg.top)
    return Path(verilog), Path(manifest)


def cached_rtl(cfg: TbConfig) -> tuple[Path, Path]:
    """:func:`generate_rtl` once per configuration and generator version, shared by tests.

    The key hashes the sizes, the formats and the generator's sources; a file lock
    lets parallel pytest workers wait for one generation instead of repeating it.
    """
    import fcntl
    import hashlib

    h = hashlib.sha256(repr((cfg.n, cfg.m, cfg.k, cfg.fixed().to_dict(), cfg.top,
                             cfg.lanes)).encode())
    for src in sorted((REPO / "rtl").glob("*.py")):
        h.update(src.read_bytes())
    out = BUILD_ROOT / "rtl-cache" / h.hexdigest()[:16]
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = out / "done.json"
        if done.exists():
            paths = json.loads(done.read_text())
            return Path(paths[0]), Path(paths[1])
        verilog, manifest = generate_rtl(cfg, out)
        done.write_text(json.dumps([str(verilog), str(manifest)]))
        return verilog, manifest
