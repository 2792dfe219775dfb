"""Event-simulator friendliness of the generated Verilog (Icarus runs named blocks as forks)."""

from __future__ import annotations

import re

from trtrl.rtl.config import ArrayConfig
from trtrl.rtl.generate import generate, unname_blocks


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
