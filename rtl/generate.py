"""Convert the neuron array to Verilog and write its manifest, atomically.

``generate(cfg, out_dir)`` writes ``trtrl_array.v`` and ``trtrl_array.json`` into a
temporary directory beside ``out_dir`` and moves them in only when both are complete.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

from pymodel.errors import TrtrlError
from rtl.config import MANIFEST_FILE, TOP, VERILOG_FILE, ArrayConfig

__all__ = ["generate", "build", "unname_blocks"]

# MyHDL names every process block (``always @(...) begin: name``). Icarus Verilog runs a
# named block as a child thread in its own scope (a fork/join per activation), which made
# the converted array several times slower to simulate there. A label is needed only for
# block-local declarations (``reg v;`` right after it) and by nothing else here (no
# ``disable``, no hierarchical reference into a block), so the others are dropped.
_NAMED = re.compile(r"^(always @\(.*\) begin): \w+\n(?!    (?:reg|integer|real|time)\b)", re.M)


def unname_blocks(verilog: str) -> str:
    """Drop the labels of ``always`` blocks that declare no local variable."""
    return _NAMED.sub(r"\1\n", verilog)


def build(cfg: ArrayConfig):
    """Elaborate the top level; returns ``(instance, ports)``."""
    from rtl.array import make_ports, trtrl_array

    ports = make_ports(cfg)
    inst = trtrl_array(**ports, cfg=cfg)
    return inst, ports


def generate(cfg: ArrayConfig, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write the Verilog and the manifest for ``cfg``; return their paths."""
    if not isinstance(cfg, ArrayConfig):
        raise TrtrlError(f"cfg: expected an ArrayConfig, got {type(cfg).__name__}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".trtrl_rtl_", dir=out))
    try:
        inst, _ = build(cfg)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MyHDL's notes on user-defined code blocks
            inst.convert(hdl="Verilog", testbench=False, path=str(tmp), name=TOP)
        vtmp = tmp / VERILOG_FILE
        if not vtmp.exists():
            raise TrtrlError(f"MyHDL wrote no {VERILOG_FILE}")
        vtmp.write_text(unname_blocks(vtmp.read_text()))
        manifest = cfg.manifest()
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
        vpath, mpath = out / VERILOG_FILE, out / MANIFEST_FILE
        os.replace(vtmp, vpath)
        os.replace(tmp / MANIFEST_FILE, mpath)
        return vpath, mpath
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
