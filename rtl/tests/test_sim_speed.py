"""Event-simulator friendliness of the generated Verilog (Icarus runs named blocks as forks)."""

from __future__ import annotations

import re

from trtrl.rtl.config import ArrayConfig
from trtrl.rtl.generate import blocking_rom_init, generate, unname_blocks


def test_unname_blocks_keeps_labels_of_blocks_with_locals():
    src = (
        "always @(a, b) begin: plain_f\n    x = a & b;\nend\n"
        "always @(posedge clk) begin: regs\n    y <= x;\nend\n"
        "always @(a) begin: local_f\n    reg [3:0] v;\n    v = a;\n    z = v;\nend\n"
    )
    out = unname_blocks(src)
    assert "always @(a, b) begin\n    x = a & b;" in out
    assert "always @(posedge clk) begin\n    y <= x;" in out
    assert "always @(a) begin: local_f\n    reg [3:0] v;" in out


def test_generated_array_has_no_named_blocks(tmp_path):
    """No block of the array needs a scope: every one converts unnamed (no fork per event)."""
    vpath, _ = generate(ArrayConfig(3, 1, 2), tmp_path)
    text = vpath.read_text()
    assert text.count("always @(") > 50
    named = re.findall(r"^always @\(.*\) begin: (\w+)$", text, re.M)
    assert not named, named[:10]


def test_activation_table_is_an_initialised_array(tmp_path):
    """The table is indexed as an array (no 2**lut_bits-way case statement, which Icarus
    compares entry by entry every cycle), initialised once with blocking assignments."""
    cfg = ArrayConfig(3, 1, 2)
    vpath, _ = generate(cfg, tmp_path)
    text = vpath.read_text()
    decl = re.search(r"^reg signed \[(\d+):0\]\s+(\w*act_rom) \[0:(\d+)-1\];$", text, re.M)
    assert decl, "no activation-table array"
    assert int(decl[3]) == 1 << cfg.fixed.lut_bits
    assert len(re.findall(rf"^    {decl[2]}\[\d+\] = ", text, re.M)) == int(decl[3])
    cases = re.findall(r"^( +)case \(\w+\)\n((?:\1    .*\n)+?)\1endcase", text, re.M)
    items = [len(re.findall(rf"^{ind}    \S", body, re.M)) for ind, body in cases]
    assert cases and max(items) < 64, f"a case statement of {max(items)} items"


def test_blocking_rom_init_touches_only_memory_initialisation():
    src = ("initial begin\n    rom[0] <= 5;\n    rom[1] <= (-3);\nend\n"
           "always @(posedge clk) begin\n    q[0] <= d;\nend\n")
    out = blocking_rom_init(src)
    assert "    rom[0] = 5;\n    rom[1] = (-3);\nend" in out
    assert "    q[0] <= d;" in out
