"""Generated Verilog: Verilator -Wall clean, Icarus compiles, no truncated products."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace

import pytest

from trtrl.pymodel.errors import ConfigError
from trtrl.pymodel.fixed.formats import FixedConfig, FixedFormat
from trtrl.rtl.config import ArrayConfig
from trtrl.rtl.generate import generate
from trtrl.rtl.manifest import Manifest
from trtrl.rtl.toolchain import verilator_env

CONFIGS = [
    ArrayConfig(1, 0, 1),
    ArrayConfig(2, 1, 1),  # N*L = 8: the address decoder's last row ends at 2**idx_bits
    ArrayConfig(3, 1, 1),
    ArrayConfig(3, 0, 3),
    ArrayConfig(4, 2, 2, FixedConfig(activation="sigmoid")),
    ArrayConfig(
        3, 1, 2,
        FixedConfig(act=FixedFormat(8, 6), weight=FixedFormat(7, 4), sens=FixedFormat(5, 3),
                    acc_bits=24, lut_bits=6, lut_range=3),
    ),
]  # fmt: skip


@pytest.fixture(scope="module", params=range(len(CONFIGS)), ids=lambda i: f"cfg{i}")
def generated(request, tmp_path_factory):
    cfg = CONFIGS[request.param]
    out = tmp_path_factory.mktemp(f"rtl{request.param}")
    vpath, mpath = generate(cfg, out)
    return cfg, vpath, mpath


def test_verilator_lint_clean(generated):
    _, vpath, _ = generated
    verilator_env()
    r = subprocess.run(
        ["verilator", "--lint-only", "-Wall", str(vpath)], capture_output=True, text=True
    )
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr[:4000]


_WAIVED = re.compile(
    r"/\* verilator lint_off WIDTHEXPAND \*/\n(.*)\n/\* verilator lint_on WIDTHEXPAND \*/"
)
_REPLICATED = re.compile(r"\{\{\d+\{(\w+)\[\d+\]\}\}, \1\}")


def test_sign_extension_forms(tmp_path):
    """"signed": one $signed assign per waiver and no replication; "concat": the reverse.

    Both lint clean and describe the same ports and manifest (only the text differs).
    """
    cfg = ArrayConfig(2, 1, 2)
    v_s, m_s = generate(cfg, tmp_path / "signed")
    v_c, m_c = generate(replace(cfg, sign_extension="concat"), tmp_path / "concat")
    signed, concat = v_s.read_text(), v_c.read_text()
    waived = _WAIVED.findall(signed)
    assert waived  # the design sign-extends (every widening goes through sext)
    assert all(re.fullmatch(r"assign \w+ = \$signed\(\w+\);", w) for w in waived), waived[:3]
    assert signed.count("lint_off") == signed.count("lint_on") == len(waived)  # nothing else
    assert not _REPLICATED.search(signed)
    assert "lint_off" not in concat and len(_REPLICATED.findall(concat)) == len(waived)
    assert m_s.read_text() == m_c.read_text()
    verilator_env()
    r = subprocess.run(["verilator", "--lint-only", "-Wall", str(v_c)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr[:4000]


def test_sign_extension_refused():
    with pytest.raises(ConfigError, match="sign_extension"):
        ArrayConfig(2, 1, 1, sign_extension="shift")


def test_icarus_compiles(generated, tmp_path):
    _, vpath, _ = generated
    r = subprocess.run(
        ["iverilog", "-g2005", "-o", str(tmp_path / "a.out"), str(vpath)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr[:4000]


def _widths(text: str) -> dict[str, int]:
    w = {}
    for m in re.finditer(
        r"^\s*(?:reg|wire|input|output)\s+(?:signed\s+)?(?:\[(\d+):0\]\s+)?(\w+)", text, re.M
    ):
        w[m.group(2)] = int(m.group(1)) + 1 if m.group(1) else 1
    return w


def test_products_are_full_width(generated):
    """Every `dst = a * b` has a destination at least as wide as both operands together."""
    _, vpath, _ = generated
    text = vpath.read_text()
    widths = _widths(text)
    muls = re.findall(r"(?:assign\s+)?(\w+)\s*<?=\s*\((\w+)\s*\*\s*(\w+)\);", text)
    assert muls, "no multiplications found"
    for dst, a, b in muls:
        assert widths[dst] >= widths[a] + widths[b], f"{dst} = {a} * {b} truncated"
    # and no product hides inside a wider expression (block comments are the lint waivers)
    for line in re.sub(r"/\*.*?\*/", "", text, flags=re.S).splitlines():
        if "*" in line and not line.strip().startswith("//"):
            assert re.search(r"\(\w+\s*\*\s*\w+\);", line), f"product inside an expression: {line}"


def test_manifest(generated):
    cfg, vpath, mpath = generated
    man = json.loads(mpath.read_text())
    assert man["verilog"] == vpath.name and man["top"] == "trtrl_array"
    assert man["cycles_per_step"] == cfg.cycles_per_step()
    assert man["ports"]["m_addr"] == man["addr_bits"]
    text = vpath.read_text()
    for port, width in man["ports"].items():
        decl = re.search(
            rf"^\s*(input|output)\s+(?:signed\s+)?(?:\[(\d+):0\]\s+)?{port};", text, re.M
        )
        assert decl, port
        assert (int(decl.group(2)) + 1 if decl.group(2) else 1) == width, port


@pytest.mark.parametrize(
    "kwargs,word",
    [
        (dict(n=2, m=1, k=3), "outputs"),
        (dict(n=0, m=1, k=0), "neurons"),
        (dict(n=2, m=-1, k=1), "inputs"),
        (dict(n=2, m=1, k=0), "outputs"),
        (dict(n=4, m=1, k=1, fixed=FixedConfig(acc_bits=20)), "acc_bits"),
    ],
)
def test_config_refused(kwargs, word):
    with pytest.raises(ConfigError, match=word):
        ArrayConfig(**kwargs)


def test_generate_atomic_on_failure(tmp_path, monkeypatch):
    import trtrl.rtl.generate as gen

    def boom(cfg, top="trtrl_array"):
        raise RuntimeError("conversion failed")

    monkeypatch.setattr(gen, "build", boom)
    with pytest.raises(RuntimeError):
        gen.generate(ArrayConfig(1, 0, 1), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_papers_example_sized_by_default() -> None:
    """N = 100, K = 10 (the paper's example): the default accumulator widens to 41 bits."""
    cfg = ArrayConfig(100, 1, 10)
    assert cfg.fixed.acc_bits == 41
    assert Manifest.of(cfg).to_json()["fixed"]["acc_bits"] == 41
    assert ArrayConfig(15, 1, 1).fixed.acc_bits == 40  # the default where it suffices
    with pytest.raises(ConfigError, match="acc_bits: 40 too narrow for L=102"):
        ArrayConfig(100, 1, 10, FixedConfig(acc_bits=40))


def test_papers_example_generates(trtrl_cmd, tmp_path):
    """`trtrl rtl gen` of the paper's N=100, K=10 example with no format options: the
    default 10 lanes, and the manifest's schedule, multipliers and memories."""
    proc = subprocess.run([*trtrl_cmd, "rtl", "gen", "--neurons", "100", "--inputs", "1",
                           "--outputs", "10", "-o", "n100"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr
    man = json.loads((tmp_path / "n100" / "trtrl_axi.json").read_text())  # the default top
    assert man["fixed"]["acc_bits"] == 41 and man["lanes"] == 10
    # R = 10 groups of L = 102 words: 1020 (forward) + 24 + 1020 * 12 (update) + 12 + 1
    assert man["cycles_per_step"] == 13297 == sum(man["cycles_per_step_phases"].values())
    assert man["multipliers"] == 41 and man["useful_multiplies_per_step"] == 472570
    mems = man["memories"]
    assert mems["weights"]["count"] == 10 and mems["weights"]["depth"] == 1020
    # the learning state N L (K + 3) words, all in synchronous-read (block) RAM
    state = mems["weights"]["count"] * mems["weights"]["depth"] * (1 + 2) + 10 * 1020 * 10
    assert man["storage_words"]["state"] == 100 * 102 * 13 == state


def test_bad_lane_count_is_one_line(trtrl_cmd, tmp_path):
    """--lanes outside 1..N: exit 2, one line naming lanes, nothing written."""
    proc = subprocess.run([*trtrl_cmd, "rtl", "gen", "-n", "3", "-m", "1", "-k", "1",
                           "--lanes", "4", "-o", "out"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "lanes" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()
