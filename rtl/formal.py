"""Protocol properties of the AXI top, proved with Yosys's SAT solver (bounded).

The shell (``rtl/shell.py``) is checked against the rules its bus partners rely on, for
every behaviour of the core: the core's outputs are cut (Yosys ``cutpoint``: each becomes
a free input, any value in any cycle), so the proof holds whatever the core does, and the
core's logic drops out of the problem. The environment is constrained only by the same
rules for the masters that drive the design (:data:`ASSUMPTIONS`); the design's
obligations are :data:`PROPERTIES`. ``sat -prove-asserts -set-assumes -seq D`` then
shows that no input sequence of ``D`` cycles starting in reset breaks a property, or
gives the first one that does (the trace as VCD and the failing property by name).

The properties are written as named wires of a wrapper module (``PROPERTIES`` and the
wrapper come from one table), so a failure names the rule.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from trtrl.pymodel.errors import TrtrlError

DEFAULT_DEPTH = 12
# The core's outputs as the AXI top's flattened Verilog names them (rtl/shell.py).
CORE_OUTPUTS = ("core_s_ready", "core_r_valid", "core_r_y", "core_r_e", "core_busy",
                "core_m_rdata", "core_m_rvalid", "core_step_count", "core_sat_count")
WRAPPER = "trtrl_axi_props"

# name -> (rule, Verilog expression that must hold in every cycle after the first)
PROPERTIES: dict[str, tuple[str, str]] = {
    "m_axis_hold": (
        "AXI4-Stream master: once TVALID is high it stays high, with TDATA and TLAST "
        "unchanged, until TREADY (unless the stream is reset: ARESETN or SOFT_RESET)",
        "!(p_m_wait && !stream_rst_probe) || (m_axis_tvalid && m_axis_tdata == p_m_data "
        "&& m_axis_tlast == p_m_last)"),
    "m_axis_reset": (
        "AXI4-Stream master: TVALID is low in the cycle after ARESETN is sampled low",
        "!(p_reset_seen) || !m_axis_tvalid"),
    "b_hold": (
        "AXI4-Lite write response: BVALID stays high with BRESP unchanged until BREADY",
        "!p_b_wait || (s_axil_bvalid && s_axil_bresp == p_bresp)"),
    "r_hold": (
        "AXI4-Lite read data: RVALID stays high with RDATA and RRESP unchanged until RREADY",
        "!p_r_wait || (s_axil_rvalid && s_axil_rdata == p_rdata && s_axil_rresp == p_rresp)"),
    "b_after_aw_w": (
        "AXI4-Lite: a write response only after both the address and the data handshake "
        "of a write not yet answered",
        "!s_axil_bvalid || (p_aw_open && p_w_open)"),
    "r_after_ar": (
        "AXI4-Lite: read data only after an address handshake not yet answered",
        "!s_axil_rvalid || p_ar_open"),
    "lite_reset": (
        "AXI4-Lite: BVALID and RVALID are low in the cycle after ARESETN is sampled low",
        "!p_reset_seen || (!s_axil_bvalid && !s_axil_rvalid)"),
}

ASSUMPTIONS = (
    "ARESETN is low in the first cycle",
    "while ARESETN is low, no master raises TVALID, AWVALID, WVALID or ARVALID",
    "the sample stream's master holds TVALID, TDATA, TLAST and TUSER until TREADY",
    "the AXI4-Lite master holds AWVALID and AWADDR until AWREADY, WVALID, WDATA and WSTRB "
    "until WREADY, ARVALID and ARADDR until ARREADY",
)


def wrapper_verilog(tdata_bits: int, addr_bits: int) -> str:
    """The wrapper: the AXI top, the environment's rules as assumptions, the properties."""
    tw, aw = tdata_bits, addr_bits
    checks = "\n".join(f"  wire p_{name} = {expr};  // {rule}"
                       for name, (rule, expr) in PROPERTIES.items())
    asserts = "\n".join(f"      assert (p_{name});" for name in PROPERTIES)
    return f"""// rtl/formal.py: the AXI top's protocol properties (yosys read_verilog -formal)
module {WRAPPER} (
  input aclk, input aresetn,
  input [{tw - 1}:0] s_axis_tdata, input s_axis_tvalid, input s_axis_tlast, input s_axis_tuser,
  input m_axis_tready,
  input [{aw - 1}:0] s_axil_awaddr, input s_axil_awvalid,
  input [31:0] s_axil_wdata, input [3:0] s_axil_wstrb, input s_axil_wvalid,
  input s_axil_bready,
  input [{aw - 1}:0] s_axil_araddr, input s_axil_arvalid,
  input s_axil_rready
);
  wire s_axis_tready, m_axis_tvalid, m_axis_tlast, s_axil_awready, s_axil_wready;
  wire s_axil_bvalid, s_axil_arready, s_axil_rvalid;
  wire [{tw - 1}:0] m_axis_tdata;
  wire [1:0] s_axil_bresp, s_axil_rresp;
  wire [31:0] s_axil_rdata;
  wire stream_rst_probe;  // connected to the shell's stream reset after flattening
  trtrl_axi dut (.*);

  // the previous cycle, as registers (no $past: every name below is a plain wire)
  reg p_started = 0, p_reset_seen = 0;  // every register starts at 0
  reg p_m_wait = 0, p_m_last = 0, p_b_wait = 0, p_r_wait = 0;
  reg [{tw - 1}:0] p_m_data = 0;
  reg [1:0] p_bresp = 0, p_rresp = 0;
  reg [31:0] p_rdata = 0;
  reg p_s_wait = 0, p_s_last = 0, p_s_user = 0, p_aw_wait = 0, p_w_wait = 0, p_ar_wait = 0;
  reg [{tw - 1}:0] p_s_data = 0;
  reg [{aw - 1}:0] p_awaddr = 0, p_araddr = 0;
  reg [31:0] p_wdata = 0;
  reg [3:0] p_wstrb = 0;
  // handshakes of the current transaction: address and data in, response not yet out
  reg p_aw_open = 0, p_w_open = 0, p_ar_open = 0;
  always @(posedge aclk) begin
    p_started <= 1;
    p_reset_seen <= !aresetn;
    // a VALID waiting for its READY at an edge that does not reset (one that does may
    // drop any VALID)
    p_m_wait <= aresetn && m_axis_tvalid && !m_axis_tready;
    p_m_data <= m_axis_tdata; p_m_last <= m_axis_tlast;
    p_b_wait <= aresetn && s_axil_bvalid && !s_axil_bready; p_bresp <= s_axil_bresp;
    p_r_wait <= aresetn && s_axil_rvalid && !s_axil_rready;
    p_rdata <= s_axil_rdata; p_rresp <= s_axil_rresp;
    p_s_wait <= s_axis_tvalid && !s_axis_tready;
    p_s_data <= s_axis_tdata; p_s_last <= s_axis_tlast; p_s_user <= s_axis_tuser;
    p_aw_wait <= s_axil_awvalid && !s_axil_awready; p_awaddr <= s_axil_awaddr;
    p_w_wait <= s_axil_wvalid && !s_axil_wready; p_wdata <= s_axil_wdata;
    p_wstrb <= s_axil_wstrb;
    p_ar_wait <= s_axil_arvalid && !s_axil_arready; p_araddr <= s_axil_araddr;
    if (!aresetn || (s_axil_bvalid && s_axil_bready)) begin
      p_aw_open <= 0; p_w_open <= 0;
    end else begin
      if (s_axil_awvalid && s_axil_awready) p_aw_open <= 1;
      if (s_axil_wvalid && s_axil_wready) p_w_open <= 1;
    end
    if (!aresetn || (s_axil_rvalid && s_axil_rready)) p_ar_open <= 0;
    else if (s_axil_arvalid && s_axil_arready) p_ar_open <= 1;
  end

  // the environment
  always @* begin
    if (!p_started) assume (!aresetn);
    if (!aresetn) assume (!s_axis_tvalid && !s_axil_awvalid && !s_axil_wvalid && !s_axil_arvalid);
    if (p_started && aresetn) begin
      if (p_s_wait) assume (s_axis_tvalid && s_axis_tdata == p_s_data
                            && s_axis_tlast == p_s_last && s_axis_tuser == p_s_user);
      if (p_aw_wait) assume (s_axil_awvalid && s_axil_awaddr == p_awaddr);
      if (p_w_wait) assume (s_axil_wvalid && s_axil_wdata == p_wdata && s_axil_wstrb == p_wstrb);
      if (p_ar_wait) assume (s_axil_arvalid && s_axil_araddr == p_araddr);
    end
  end

  // the design's obligations
{checks}
  always @* begin
    if (p_started) begin
{asserts}
    end
  end
endmodule
"""


def prove_script(design: str, depth: int) -> str:
    """Yosys script: the design and the wrapper, the core cut out, a bounded proof."""
    cuts = " ".join(f"w:dut.{name}" for name in CORE_OUTPUTS)
    shows = " ".join(f"-show p_{name}" for name in PROPERTIES)
    return "\n".join([
        f"read_verilog {design}", f"read_verilog -formal -sv {WRAPPER}.sv",
        f"hierarchy -top {WRAPPER}", "proc", "flatten",
        "connect -set stream_rst_probe dut.stream_rst",
        f"cutpoint {cuts}",
        # the core now drives nothing: collect its memories so that they can go too
        "memory -nomap", "opt_clean", "opt_mem", "opt_clean", "memory_map", "opt -fast",
        "async2sync",
        f"sat -prove-asserts -set-assumes -set-init-zero -seq {depth} -dump_vcd trace.vcd "
        f"{shows} {WRAPPER}",
        "",
    ])


@dataclass
class ProofResult:
    """A bounded proof: every property held for ``depth`` cycles, or the first that broke."""

    depth: int
    proved: bool
    failed: list[str]  # the properties false in the last cycle of the counterexample
    seconds: float
    log: Path
    trace: Path | None


def _failed_properties(log_text: str) -> list[str]:
    """Properties that are 0 in the last time step of the counterexample Yosys printed."""
    last: dict[str, tuple[int, str]] = {}
    for m in re.finditer(r"^\s+(\d+)\s+\\p_(\w+)\s+(\S+)", log_text, re.M):
        step, name, value = int(m.group(1)), m.group(2), m.group(3)
        if name in PROPERTIES and step >= last.get(name, (-1, ""))[0]:
            last[name] = (step, value)
    return sorted(n for n, (_, v) in last.items() if v == "0")


def prove(verilog: Path, tdata_bits: int, addr_bits: int, out: Path,
          depth: int = DEFAULT_DEPTH, timeout: float = 3600.0) -> ProofResult:
    """Prove :data:`PROPERTIES` of the AXI top ``verilog`` for ``depth`` cycles from reset.

    Writes into ``out`` (which must exist): the design's copy, ``trtrl_axi_props.sv``,
    ``prove.ys``, ``prove.log`` and, on a failure, ``trace.vcd``.
    """
    from trtrl.rtl.toolchain import run_yosys_script

    if depth < 2:
        raise TrtrlError(f"--depth: at least 2 cycles (reset, then one step), not {depth}")
    # Yosys (WebAssembly) reads and writes plain names in its working folder
    (out / verilog.name).write_bytes(verilog.read_bytes())
    (out / f"{WRAPPER}.sv").write_text(wrapper_verilog(tdata_bits, addr_bits))
    t0 = time.perf_counter()
    rc = run_yosys_script(prove_script(verilog.name, depth), out, "prove.ys", "prove.log",
                          timeout)
    if rc is None:
        raise TrtrlError(f"prove: Yosys took more than {timeout:g} s")
    seconds = time.perf_counter() - t0
    text = (out / "prove.log").read_text()
    if "SAT proof finished - no model found: SUCCESS!" in text and rc == 0:
        return ProofResult(depth, True, [], seconds, out / "prove.log", None)
    if "model found: FAIL!" in text:
        failed = _failed_properties(text)
        return ProofResult(depth, False, failed, seconds, out / "prove.log", out / "trace.vcd")
    raise TrtrlError(f"prove: Yosys failed (see {out / 'prove.log'})")
