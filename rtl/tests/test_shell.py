"""The AXI top (``trtrl_axi``) and its register map: clean Verilog, fixed pins, one map.

The behaviour through the buses is the cocotb testbench's (testbenches/test_trtrl_axi/).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.fixed.formats import FixedConfig, FixedFormat
from trtrl.rtl.config import AXI_TOP, REGS_HEADER, ArrayConfig
from trtrl.rtl.generate import generate
from trtrl.rtl.manifest import Manifest
from trtrl.rtl.regmap import RegisterMap, register_map
from trtrl.rtl.shell import axi_ports
from trtrl.rtl.toolchain import verilator_env

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = [
    ArrayConfig(1, 0, 1),
    ArrayConfig(2, 1, 1),  # N*L = 8 = 2**idx_bits: no index check in the decode
    ArrayConfig(3, 2, 2, FixedConfig(act=FixedFormat(10, 8), weight=FixedFormat(10, 6),
                                     sens=FixedFormat(10, 6), lut_bits=8)),
    ArrayConfig(2, 1, 2, FixedConfig(act=FixedFormat(24, 22), weight=FixedFormat(24, 18),
                                     sens=FixedFormat(24, 18))),
]


@pytest.fixture(scope="module", params=range(len(CONFIGS)), ids=lambda i: f"cfg{i}")
def generated(request, tmp_path_factory):
    cfg = CONFIGS[request.param]
    out = tmp_path_factory.mktemp(f"axi{request.param}")
    vpath, mpath = generate(cfg, out, AXI_TOP)
    return cfg, vpath, mpath


def test_verilator_lint_clean(generated) -> None:
    _, vpath, _ = generated
    verilator_env()
    r = subprocess.run(["verilator", "--lint-only", "-Wall", str(vpath)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr[:4000]


def test_icarus_compiles(generated, tmp_path: Path) -> None:
    _, vpath, _ = generated
    r = subprocess.run(["iverilog", "-g2005", "-o", str(tmp_path / "a.out"), str(vpath)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[:4000]


def test_manifest_describes_the_axi_top(generated) -> None:
    cfg, vpath, mpath = generated
    man = Manifest.read(mpath)
    assert (man.top, man.verilog) == (AXI_TOP, vpath.name)
    assert man.ports == axi_ports(cfg) and man.details["pins"] == sum(man.ports.values())
    assert man.details["core_ports"] == cfg.ports()
    assert RegisterMap.from_json(man.details["registers"]) == register_map(cfg)
    text = vpath.read_text()
    for name, width in man.ports.items():  # every port declared at its width
        decl = r"\b(input|output)\s+(reg\s+)?" + (rf"\[{width - 1}:0\]\s+" if width > 1 else "")
        assert re.search(decl + rf"{name}\s*;", text), name
    assert (vpath.parent / REGS_HEADER).read_text() == register_map(cfg).c_header()


def test_pins_do_not_grow_with_n() -> None:
    """The pin count moves with the address width only (the issue's N = 2, 16, 100)."""
    for k in (1, 10):
        rows = []
        for n in (10, 16, 100) if k == 10 else (2, 16, 100):
            cfg = ArrayConfig(n, 1, k)
            ports = axi_ports(cfg)
            aw = register_map(cfg).addr_bits
            rows.append((sum(ports.values()) - 2 * aw, aw))
            assert ports["s_axil_awaddr"] == ports["s_axil_araddr"] == aw
        assert len({fixed for fixed, _ in rows}) == 1, rows  # the same apart from addresses
        assert rows[0][1] < rows[-1][1]


@pytest.mark.parametrize("cfg", [ArrayConfig(1, 0, 1), ArrayConfig(3, 1, 2),
                                 ArrayConfig(15, 1, 1), ArrayConfig(100, 1, 10)],
                         ids=["n1", "n3", "n15", "n100"])
def test_register_map_is_consistent(cfg: ArrayConfig) -> None:
    rmap = register_map(cfg)
    offsets = [r.offset for r in rmap.registers]
    assert offsets == [4 * i for i in range(len(offsets))]  # contiguous, word aligned
    assert 4 * len(offsets) <= rmap.mem_base  # the block fits its half
    assert rmap.mem_base == 1 << (rmap.addr_bits - 1)
    assert rmap.register("MEM_BASE").value == rmap.mem_base
    for r in rmap.registers:
        bits = [b for f in r.fields for b in range(f.lsb, f.lsb + f.width)]
        assert len(bits) == len(set(bits)) and all(b < 32 for b in bits), r.name
        if r.value is not None:
            assert 0 <= r.value < 1 << 32
    ends = []
    for w in rmap.windows:  # inside the memory half, apart, region by region
        assert w.base == rmap.mem_base + 4 * (w.region << rmap.idx_bits)
        assert w.words == cfg.n * cfg.L <= 1 << rmap.idx_bits
        ends.append((w.base, w.base + 4 * w.words))
    assert all(a_end <= b for (_, a_end), (b, _) in zip(ends, ends[1:], strict=False))
    assert ends[-1][1] <= 1 << rmap.addr_bits
    assert [w.region for w in rmap.windows] == list(range(cfg.k + 3))
    assert RegisterMap.from_json(json.loads(json.dumps(rmap.to_json()))) == rmap
    word = rmap.encode("CONTROL", LEARN=1, LR_SHIFT=5)
    assert rmap.decode("CONTROL", word) == {"LEARN": 1, "LEARN_FROM_TUSER": 0, "LR_SHIFT": 5}


def test_register_map_refuses_bad_input() -> None:
    rmap = register_map(ArrayConfig(2, 1, 1))
    with pytest.raises(TrtrlError, match="no register 'NOPE'"):
        rmap.offset("NOPE")
    with pytest.raises(TrtrlError, match="LR_SHIFT: 32 does not fit 5 bits"):
        rmap.encode("CONTROL", LR_SHIFT=32)
    with pytest.raises(TrtrlError, match="registers: not a register map"):
        RegisterMap.from_json({"addr_bits": 8})


def test_c_header_compiles_and_matches_the_map(tmp_path: Path) -> None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    rmap = register_map(ArrayConfig(3, 1, 2))
    (tmp_path / REGS_HEADER).write_text(rmap.c_header())
    probe = tmp_path / "probe.c"
    checks = [f"_Static_assert(TRTRL_{r.name}_OFFSET == {r.offset}u, \"{r.name}\");"
              for r in rmap.registers]
    checks += [f"_Static_assert(TRTRL_{w.name}_BASE == {w.base}u, \"{w.name}\");"
               for w in rmap.windows]
    f = rmap.register("CONTROL").field("LR_SHIFT")
    checks.append(f"_Static_assert(TRTRL_CONTROL_LR_SHIFT_MASK == {f.mask}u, \"mask\");")
    probe.write_text(f'#include "{REGS_HEADER}"\n' + "\n".join(checks) + "\n")
    r = subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-fsyntax-only", str(probe)],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_documented_register_table_is_generated() -> None:
    """docs/registers.md is what ``python -m trtrl.rtl.regmap`` writes (regenerate it so)."""
    from trtrl.rtl.regmap import document

    assert (ROOT / "docs" / "registers.md").read_text() == document()


def test_axi_generation_is_reproducible(trtrl_cmd: list[str], tmp_path: Path) -> None:
    outs = []
    for seed, name in (("1", "a"), ("4242", "other_name")):
        out = tmp_path / name
        env = dict(os.environ, PYTHONHASHSEED=seed)
        subprocess.run([*trtrl_cmd, "rtl", "gen", "-n", "2", "-m", "1", "-k", "1", "--top",
                        AXI_TOP, "-o", str(out)], check=True, env=env, capture_output=True)
        outs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outs[0] == outs[1]
    assert sorted(outs[0]) == sorted([REGS_HEADER, f"{AXI_TOP}.json", f"{AXI_TOP}.v"])
    assert b"/tmp" not in b"".join(outs[0].values())
    head = outs[0][f"{AXI_TOP}.v"].decode().splitlines()[2]
    assert "--top trtrl_axi" in head  # the header's command writes the AXI top again
