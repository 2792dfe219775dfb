"""The bus shell's register map, written once.

Everything that knows an address reads it from :func:`register_map`: the shell's address
decode (``rtl/shell.py``), the manifest (``registers``), the testbench's register model
(:meth:`RegisterMap.from_json` on the manifest), the C header for drivers
(:meth:`RegisterMap.c_header`, written beside the Verilog) and the register table of the
documentation (:meth:`RegisterMap.markdown`, ``docs/registers.md``).

The AXI4-Lite address space is byte-addressed with 32-bit words and split in two halves.
The low half holds the registers (a block at 0; the rest of the half is unmapped). The
high half, from ``MEM_BASE`` (a register), is the core's memory port word for word: the
word at ``MEM_BASE + 4 * (region * 2**IDX_BITS + i * L + j)`` is ``W[i, j]`` (region 0,
read/write), ``p_out[k, i, j]`` (region ``1 + k``), ``p_ing[i, j]`` (``K + 1``) or
``p_egr[i, j]`` (``K + 2``), read only. Each half is as large as the core's address space
or the register block, whichever is larger. An address past a region's ``N * L`` words, a
region past ``K + 2``, a memory-half word beyond the core's address space, or a
register-half word that is no register, is unmapped.

The error responses are :data:`ERRORS` (the documentation and the testbench's functional
coverage read them from there).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

from trtrl.pymodel.errors import TrtrlError

__all__ = ["ACCESS", "ID_VALUE", "Field", "Register", "Window", "RegisterMap", "register_map",
           "ACTIVATION_CODES", "RESP", "AccessError", "ERRORS"]

ACCESS = ("ro", "rw", "wo")  # wo: command bits, which read as 0
ID_VALUE = 0x5452_5452  # "TRTR"
ACTIVATION_CODES = {"tanh": 0, "sigmoid": 1}
RESP = {"OKAY": 0, "SLVERR": 2, "DECERR": 3}  # AXI4 BRESP/RRESP codes
DATA_BITS = 32


@dataclass(frozen=True)
class AccessError:
    """A kind of illegal access: the response it gets (and nothing changes), for ``ops``."""

    kind: str
    resp: str
    ops: tuple[str, ...]
    doc: str


# The shell's error responses (rtl/shell.py decodes them in this order).
ERRORS = (
    AccessError("unmapped address", "DECERR", ("read", "write"),
                "any access to an unmapped address"),
    AccessError("unaligned address", "SLVERR", ("read", "write"),
                "an address that is not a multiple of 4"),
    AccessError("partial strobe", "SLVERR", ("write",), "a write whose `WSTRB` is not `0xF`"),
    AccessError("read-only register", "SLVERR", ("write",), "a write to a read-only register"),
    AccessError("read-only window", "SLVERR", ("write",), "a write to a read-only window"),
    AccessError("weight outside format W", "SLVERR", ("write",),
                "a weight write whose value does not fit format W (bits 31 down to "
                "`W.total - 1` not all equal)"),
)


def access_error(kind: str) -> AccessError:
    """The :data:`ERRORS` entry of ``kind``."""
    for e in ERRORS:
        if e.kind == kind:
            return e
    raise TrtrlError(f"register map: no access error {kind!r}")


def errors_text() -> str:
    """:data:`ERRORS` as the documentation's paragraph."""
    return "Error responses (and nothing changes): " + "; ".join(
        f"{e.doc} gets `{e.resp}`" for e in ERRORS) + "."


@dataclass(frozen=True)
class Field:
    """Bits ``[lsb + width - 1 : lsb]`` of a register."""

    name: str
    lsb: int
    width: int
    doc: str
    reset: int = 0

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb


@dataclass(frozen=True)
class Register:
    """One 32-bit register at a byte ``offset``; ``value`` is a constant register's."""

    name: str
    offset: int
    access: str
    doc: str
    fields: tuple[Field, ...] = ()
    value: int | None = None

    @property
    def reset(self) -> int:
        if self.value is not None:
            return self.value
        return sum(f.reset << f.lsb for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise TrtrlError(f"register {self.name}: no field {name!r}")


@dataclass(frozen=True)
class Window:
    """``words`` consecutive 32-bit words of one region of the core's memory port."""

    name: str
    base: int
    words: int
    region: int
    access: str
    doc: str


@dataclass(frozen=True)
class RegisterMap:
    """The address space of one configuration."""

    addr_bits: int  # AXI4-Lite address width (byte address)
    mem_base: int  # byte address of the memory half
    idx_bits: int  # index bits of a region (core address = region * 2**idx_bits + index)
    registers: tuple[Register, ...]
    windows: tuple[Window, ...]
    data_bits: int = DATA_BITS

    # -- lookups ----------------------------------------------------------------------------
    def register(self, name: str) -> Register:
        for r in self.registers:
            if r.name == name:
                return r
        raise TrtrlError(f"register map: no register {name!r}")

    def offset(self, name: str) -> int:
        return self.register(name).offset

    def window(self, name: str) -> Window:
        for w in self.windows:
            if w.name == name:
                return w
        raise TrtrlError(f"register map: no window {name!r}")

    def encode(self, name: str, **values: int) -> int:
        """The word of register ``name`` with the given field values (others at reset)."""
        reg = self.register(name)
        word = reg.reset
        for key, value in values.items():
            f = reg.field(key)
            if not 0 <= value < 1 << f.width:
                raise TrtrlError(f"{name}.{key}: {value} does not fit {f.width} bits")
            word = (word & ~f.mask) | (value << f.lsb)
        return word

    def decode(self, name: str, word: int) -> dict[str, int]:
        """Field values of a word read from register ``name``."""
        return {f.name: (word & f.mask) >> f.lsb for f in self.register(name).fields}

    def name_at(self, addr: int) -> str | None:
        """The register or window that byte address ``addr`` (a word's) is in, else None."""
        for r in self.registers:
            if r.offset == addr:
                return r.name
        for w in self.windows:
            if w.base <= addr < w.base + 4 * w.words and addr % 4 == 0:
                return w.name
        return None

    def word_access(self) -> dict[int, str]:
        """Access of every mapped word of the register half, by word index."""
        return {r.offset // 4: r.access for r in self.registers}

    @property
    def register_words(self) -> int:
        """Words of the register block (a power of two covering every register)."""
        last = max(r.offset for r in self.registers) // 4
        return 1 << max(1, last.bit_length())

    # -- serialisation (the manifest's ``registers``) ----------------------------------------
    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegisterMap:
        try:
            regs = tuple(Register(**{**r, "fields": tuple(Field(**f) for f in r["fields"])})
                         for r in data["registers"])
            wins = tuple(Window(**w) for w in data["windows"])
            return cls(addr_bits=int(data["addr_bits"]), mem_base=int(data["mem_base"]),
                       idx_bits=int(data["idx_bits"]), registers=regs, windows=wins,
                       data_bits=int(data.get("data_bits", DATA_BITS)))
        except (KeyError, TypeError) as exc:
            raise TrtrlError(f"registers: not a register map ({exc})") from None

    # -- generated views --------------------------------------------------------------------
    def c_header(self, guard: str = "TRTRL_REGS_H") -> str:
        """A C header: every register's byte offset and field masks, every window's base."""
        out = ["/* trtrl AXI4-Lite register map, generated by `trtrl rtl gen`; do not edit. */",
               f"#ifndef {guard}", f"#define {guard}", ""]
        for r in self.registers:
            out.append(f"#define TRTRL_{r.name}_OFFSET 0x{r.offset:03X}u  /* {r.access} */")
            if r.value is not None:
                out.append(f"#define TRTRL_{r.name}_VALUE 0x{r.value:08X}u")
            for f in r.fields:
                out += [f"#define TRTRL_{r.name}_{f.name}_SHIFT {f.lsb}u",
                        f"#define TRTRL_{r.name}_{f.name}_MASK 0x{f.mask:08X}u"]
        out.append("")
        for w in self.windows:
            out += [f"#define TRTRL_{w.name}_BASE 0x{w.base:08X}u  /* {w.access} */",
                    f"#define TRTRL_{w.name}_WORDS {w.words}u"]
        out += ["", f"#endif /* {guard} */", ""]
        return "\n".join(out)

    def markdown(self) -> str:
        """The register table and the windows, as the documentation shows them."""
        rows = ["| offset | name | access | reset | fields | meaning |",
                "| --- | --- | --- | --- | --- | --- |"]
        for r in self.registers:
            fields = "<br>".join(
                f"`[{f.lsb + f.width - 1}:{f.lsb}]` {f.name}" if f.width > 1
                else f"`[{f.lsb}]` {f.name}" for f in r.fields) or "`[31:0]`"
            docs = " ".join([r.doc] + [f"{f.name}: {f.doc}" for f in r.fields])
            rows.append(f"| 0x{r.offset:03X} | {r.name} | {r.access} | 0x{r.reset:08X} | "
                        f"{fields} | {docs} |")
        rows += ["", "| base | window | access | words | meaning |",
                 "| --- | --- | --- | --- | --- |"]
        rows += [f"| 0x{w.base:X} | {w.name} | {w.access} | {w.words} | {w.doc} |"
                 for w in self.windows]
        return "\n".join(rows) + "\n"


def _fmt_fields(what: str) -> tuple[Field, ...]:
    return (Field("TOTAL", 0, 8, f"total bits of {what}"),
            Field("FRAC", 8, 8, f"fraction bits of {what}"))


def _version_word(version: str) -> int:
    major, minor, patch = (int(p) for p in version.split(".")[:3])
    return (major << 16) | (minor << 8) | patch


def register_map(cfg: Any) -> RegisterMap:
    """The register map of the array ``cfg`` (a :class:`trtrl.rtl.config.ArrayConfig`)."""
    from trtrl import __version__

    f = cfg.fixed
    regs: list[Register] = []

    def reg(name: str, access: str, doc: str, fields: Iterable[Field] = (),
            value: int | None = None) -> None:
        regs.append(Register(name, 4 * len(regs), access, doc, tuple(fields), value))

    reg("ID", "ro", "identifies the core (\"TRTR\")", value=ID_VALUE)
    reg("VERSION", "ro", "trtrl version major.minor.patch",
        (Field("PATCH", 0, 8, "patch"), Field("MINOR", 8, 8, "minor"),
         Field("MAJOR", 16, 8, "major")), value=_version_word(__version__))
    reg("NEURONS", "ro", "N, neurons", value=cfg.n)
    reg("INPUTS", "ro", "M, external inputs", value=cfg.m)
    reg("OUTPUTS", "ro", "K, outputs (neurons 0..K-1)", value=cfg.k)
    reg("FORMAT_A", "ro", "format A (activations, inputs, targets, errors)",
        _fmt_fields("A"), value=f.act.total | (f.act.frac << 8))
    reg("FORMAT_W", "ro", "format W (weights)", _fmt_fields("W"),
        value=f.weight.total | (f.weight.frac << 8))
    reg("FORMAT_P", "ro", "format P (sensitivities)", _fmt_fields("P"),
        value=f.sens.total | (f.sens.frac << 8))
    reg("DATAPATH", "ro", "accumulator and activation table",
        (Field("ACC_BITS", 0, 8, "accumulator bits"),
         Field("LUT_BITS", 8, 8, "table index bits"),
         Field("LUT_RANGE", 16, 8, "table input range +-2**LUT_RANGE"),
         Field("ACTIVATION", 24, 8, "0 tanh, 1 sigmoid")),
        value=(f.acc_bits | (f.lut_bits << 8) | (f.lut_range << 16)
               | (ACTIVATION_CODES[f.activation] << 24)))
    reg("CYCLES_PER_STEP", "ro", "core clock cycles per learning step",
        value=cfg.cycles_per_step())
    reg("MEM_BASE", "ro", "byte address of the memory half (its value is filled in below)",
        value=0)
    reg("MEM_LAYOUT", "ro", "memory half: word MEM_BASE + 4 * (region * 2**IDX_BITS + "
        "i * L + j)",
        (Field("IDX_BITS", 0, 8, "index bits of a region"),
         Field("REGION_BITS", 8, 8, "region bits")),
        value=cfg.idx_bits | (cfg.region_bits << 8))
    reg("CONTROL", "rw", "read at the start of every step",
        (Field("LEARN", 0, 1, "update the weights (when LEARN_FROM_TUSER is 0)"),
         Field("LEARN_FROM_TUSER", 1, 1, "1: each sample's TUSER[0] on its last beat "
               "says whether that step learns"),
         Field("LR_SHIFT", 8, 5, "learning rate 2**-LR_SHIFT")))
    reg("COMMAND", "wo", "write 1 to start; reads 0",
        (Field("CLEAR", 0, 1, "clear y, every sensitivity and the counters once the core "
               "is idle and no result is pending (weights kept)"),
         Field("SOFT_RESET", 1, 1, "reset the core and both streams now (weights and "
               "CONTROL kept); the core then clears its state")))
    reg("STATUS", "ro", "",
        (Field("BUSY", 0, 1, "the core runs a step or a clear"),
         Field("SAMPLE_PENDING", 1, 1, "a whole sample waits for the core"),
         Field("RESULT_PENDING", 2, 1, "a result is not yet sent on the result stream"),
         Field("CLEAR_PENDING", 3, 1, "a CLEAR waits for the core")))
    reg("STEP_COUNT", "ro", "steps done since the last clear or reset")
    reg("SAT_COUNT", "ro", "saturation events since the last clear or reset "
        "(stops at 2**32-1)")
    reg("RESULT_COUNT", "ro", "result packets sent since the last clear or reset")
    reg("FRAME_ERRORS", "ro", "sample packets dropped since the last reset: TLAST not on "
        "beat M+K, or a beat that is not a sign-extended format-A word")

    # Each half holds the core's address space (2**addr_bits words) or the register
    # block, whichever is larger.
    half_word_bits = max(cfg.addr_bits, (len(regs) - 1).bit_length())
    mem_base = 1 << (half_word_bits + 2)
    regs = [replace(r, value=mem_base, doc="byte address of the memory half")
            if r.name == "MEM_BASE" else r for r in regs]
    words = cfg.n * cfg.L

    def win(name: str, region: int, access: str, doc: str) -> Window:
        return Window(name, mem_base + 4 * (region << cfg.idx_bits), words, region, access,
                      doc)

    wins = [win("WEIGHTS", 0, "rw", "W[i, j] at word i*L + j, sign-extended; a write must "
                "fit format W")]
    wins += [win(f"SENS_OUT{k}", 1 + k, "ro", f"p_out[{k}, i, j] at word i*L + j")
             for k in range(cfg.k)]
    wins += [win("SENS_ING", cfg.k + 1, "ro", "p_ing[i, j] at word i*L + j"),
             win("SENS_EGR", cfg.k + 2, "ro", "p_egr[i, j] at word i*L + j")]
    return RegisterMap(addr_bits=half_word_bits + 3, mem_base=mem_base, idx_bits=cfg.idx_bits,
                       registers=tuple(regs), windows=tuple(wins))


def dumps(rmap: RegisterMap) -> str:
    """The map as the manifest stores it (for tests and the documentation generator)."""
    return json.dumps(rmap.to_json(), indent=1, sort_keys=True)


EXAMPLE = (15, 1, 1)  # the documented map: the frequency doubler's array, default formats


def document() -> str:
    """``docs/registers.md``: the map of the example array, and what changes with the size."""
    from trtrl.rtl.config import ArrayConfig

    n, m, k = EXAMPLE
    rmap = register_map(ArrayConfig(n, m, k))
    return "\n".join([
        "# Registers of `trtrl_axi` (AXI4-Lite)",
        "",
        "Generated from `rtl/regmap.py` by `python -m trtrl.rtl.regmap docs/registers.md`; "
        "do not edit. Every generated AXI top carries its own map in its manifest "
        "(`registers`) and in `trtrl_regs.h`; this page shows the map of the example array "
        f"(N={n}, M={m}, K={k}, default formats). The register offsets and fields are the "
        "same for every array; the constant registers' values, `MEM_BASE`, the window bases "
        "and sizes and the address width follow N, M, K and the formats.",
        "",
        (__doc__ or "").split("\n\n", 3)[2].strip(),
        "",
        errors_text(),
        "",
        f"Address width {rmap.addr_bits} bits; data 32 bits; the memory half starts at "
        f"0x{rmap.mem_base:X}.",
        "",
        rmap.markdown(),
    ])


if __name__ == "__main__":  # python -m trtrl.rtl.regmap docs/registers.md
    import sys
    from pathlib import Path

    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):  # --help is not a file name
        sys.exit("usage: python -m trtrl.rtl.regmap OUT.md")
    Path(sys.argv[1]).write_text(document())
