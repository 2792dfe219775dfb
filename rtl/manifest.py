"""The manifest beside a generated array (``trtrl_array.json``): one typed description.

:class:`Manifest` is written by ``trtrl rtl gen`` (:func:`rtl.generate.generate`) and read
by everything downstream (the testbench, ``trtrl regress --rtl``, the waveform tools,
synthesis), always through :meth:`Manifest.read`, so the file has one schema. It is
versioned (``schema``, ``schema_version``); a file that does not follow it is refused in
one line naming the key. The fields are what a tool needs to drive the array;
``details`` holds what describes it (storage, address regions, datapath width, the
``synthesis`` results ``trtrl rtl synth`` adds), top-level keys of the file written and
read back as they are.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.fixed.formats import FixedConfig
from trtrl.rtl.config import (
    AXI_TOP,
    CYCLES_FORMULA,
    LR_SHIFT_BITS,
    MANIFEST_FILE,
    REGS_HEADER,
    TOP,
    VERILOG_FILE,
    ArrayConfig,
)

__all__ = ["SCHEMA", "SCHEMA_VERSION", "Manifest", "MANIFEST_FILE"]

SCHEMA = "trtrl-array-manifest"
# 1: first versioned layout (trtrl 0.1.0); unversioned files came before it.
SCHEMA_VERSION = 1


# The keys the typed fields are written under; every other key is a detail.
_FIELD_KEYS = frozenset((
    "schema", "schema_version", "generator", "top", "verilog", "neurons", "inputs",
    "outputs", "fixed", "cycles_per_step", "clear_cycles", "read_latency", "addr_bits",
    "idx_bits", "ports",
))


@dataclass(frozen=True)
class Manifest:
    """Sizes, formats, timing and ports of one generated array."""

    n: int
    m: int
    k: int
    fixed: FixedConfig
    cycles_per_step: int
    clear_cycles: int
    read_latency: int
    addr_bits: int
    idx_bits: int
    ports: dict[str, int]
    top: str = TOP
    verilog: str = VERILOG_FILE
    generator: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def L(self) -> int:  # the specification's name
        return self.m + 1 + self.n

    @property
    def interface(self) -> str:
        """``AXI_TOP`` for the core in its bus shell (the manifest has a register map), else
        ``TOP``: the ports a testbench drives, whatever the module is called."""
        return AXI_TOP if "registers" in self.details else TOP

    # -- from a configuration --------------------------------------------------------------
    @classmethod
    def of(cls, cfg: ArrayConfig, generator: str = "", top: str = TOP) -> Manifest:
        """The manifest of the array ``cfg`` describes, as the core alone (``TOP``) or
        inside the AXI shell (``AXI_TOP``: its ports, register map and streams)."""
        shell: dict[str, Any] = {}
        ports = cfg.ports()
        if top == AXI_TOP:
            from trtrl.rtl.regmap import register_map
            from trtrl.rtl.shell import axi_ports, stream_bits

            ports = axi_ports(cfg)
            shell = {
                "core_ports": cfg.ports(),
                "pins": sum(ports.values()),
                "streams": {"tdata_bits": stream_bits(cfg), "sample_beats": cfg.m + cfg.k,
                            "result_beats": cfg.n + cfg.k},
                "registers": register_map(cfg).to_json(),
                "c_header": REGS_HEADER,
            }
        elif top != TOP:
            raise TrtrlError(f"top: unknown {top!r} ({TOP} or {AXI_TOP})")
        return cls(
            n=cfg.n, m=cfg.m, k=cfg.k, fixed=cfg.fixed,
            cycles_per_step=cfg.cycles_per_step(), clear_cycles=cfg.clear_cycles,
            read_latency=cfg.read_latency, addr_bits=cfg.addr_bits, idx_bits=cfg.idx_bits,
            ports=ports, generator=generator, top=top, verilog=f"{top}.v",
            details={**shell,
                "columns": cfg.L,
                "cycles_per_step_formula": CYCLES_FORMULA,
                "lanes": cfg.lanes,
                "cycles_per_step_phases": cfg.fold_cycles(),
                "multipliers": cfg.multipliers,
                "useful_multiplies_per_step": cfg.useful_multiplies(),
                "multiplier_utilisation": round(cfg.multiplier_utilisation, 4),
                "memories": cfg.memories(),
                "storage_words": cfg.storage_words(),
                "regions": {"weight": 0, "p_out": [1, cfg.k], "p_ing": cfg.k + 1,
                            "p_egr": cfg.k + 2},
                "lr_shift_bits": LR_SHIFT_BITS,
                "datapath_bits": cfg.dp_bits,
            },
        )  # fmt: skip

    def with_details(self, **more: Any) -> Manifest:
        """A copy with ``details`` extended (e.g. ``synthesis=...``)."""
        return replace(self, details={**self.details, **more})

    # -- JSON ------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "generator": self.generator,
            "top": self.top, "verilog": self.verilog,
            "neurons": self.n, "inputs": self.m, "outputs": self.k,
            "fixed": self.fixed.to_dict(),
            "cycles_per_step": self.cycles_per_step, "clear_cycles": self.clear_cycles,
            "read_latency": self.read_latency, "addr_bits": self.addr_bits,
            "idx_bits": self.idx_bits, "ports": dict(self.ports),
            **self.details,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Any, source: str = "manifest") -> Manifest:
        """Validate and load; a wrong or missing key is a one-line :class:`TrtrlError`."""
        def fail(what: str) -> TrtrlError:
            return TrtrlError(f"{source}: {what}")

        if not isinstance(data, dict):
            raise fail("expected a JSON object")
        if "schema" not in data:
            raise fail("no 'schema' key: written by a trtrl from before manifests were "
                       "versioned; regenerate it with `trtrl rtl gen`")
        if data["schema"] != SCHEMA:
            raise fail(f"'schema' is {data['schema']!r}, not {SCHEMA!r}")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise fail(f"'schema_version' {version!r}: this trtrl reads version "
                       f"{SCHEMA_VERSION}; regenerate it with `trtrl rtl gen`")

        def need(key: str, kind: type) -> Any:
            if key not in data:
                raise fail(f"missing key '{key}'")
            value = data[key]
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise fail(f"'{key}' must be an integer, got {value!r}")
            if not isinstance(value, kind):
                raise fail(f"'{key}' must be a {kind.__name__}, got {value!r}")
            return value

        fixed_d = need("fixed", dict)
        try:
            fixed = FixedConfig.from_dict(fixed_d)
        except KeyError as exc:
            raise fail(f"'fixed' has no key {exc}") from None
        except (TypeError, ValueError, TrtrlError) as exc:
            raise fail(f"'fixed': {exc}") from None
        ports = need("ports", dict)
        bad = [p for p, w in ports.items() if isinstance(w, bool) or not isinstance(w, int)]
        if bad:
            raise fail(f"'ports' width of {bad[0]!r} must be an integer")
        details = {key: v for key, v in data.items() if key not in _FIELD_KEYS}
        return cls(
            n=need("neurons", int), m=need("inputs", int), k=need("outputs", int), fixed=fixed,
            cycles_per_step=need("cycles_per_step", int), clear_cycles=need("clear_cycles", int),
            read_latency=need("read_latency", int), addr_bits=need("addr_bits", int),
            idx_bits=need("idx_bits", int), ports=dict(ports), top=need("top", str),
            verilog=need("verilog", str), generator=str(data.get("generator", "")),
            details=details,
        )  # fmt: skip

    # -- files -----------------------------------------------------------------------------
    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (a temporary name, then a rename)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Manifest:
        path = Path(path)
        if not path.is_file():
            raise TrtrlError(f"manifest {path}: no such file (give --manifest FILE.json)")
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TrtrlError(f"manifest {path}: not valid JSON ({exc})") from None
        return cls.from_json(data, source=f"manifest {path}")
