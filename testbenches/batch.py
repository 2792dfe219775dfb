"""Long runs at the simulator's own speed: an HDL harness around the AXI top.

Python woken every clock cycle (cocotb's clock, cocotbext-axi's stream drivers) caps a
scoreboarded run at a few percent of what the simulator itself runs. The harness
``trtrl_axi_batch`` (Verilog written here from the manifest) keeps the cycle loop in the
simulator:

- the clock is generated in HDL (``always #``) on Icarus; on Verilator it is cocotb's
  clock, which runs in C++ without waking Python;
- a batch of samples is loaded from ``samples.hex`` / ``learn.hex`` (``$readmemh``, on a
  rising ``load``), streamed into ``s_axis`` with idle cycles, and the results drained
  from ``m_axis`` with backpressure, both from 32-bit LFSRs seeded by the testbench (a
  cycle pauses when the LFSR's low byte is below the threshold), so a run repeats
  exactly;
- the results go to ``results.hex`` (``$writememh``), then ``done`` rises: Python wakes
  once per batch, not once per cycle;
- protocol checks stay in HDL: a stalled result beat must hold ``TVALID``, ``TDATA`` and
  ``TLAST``, and ``TLAST`` must fall on beat ``N + K`` (``proto_errors`` counts both);
- bulk register traffic (the weight load, the state read back at checkpoints: thousands
  of words at N = 15) runs in HDL too: a sequencer takes a list of reads and writes from
  ``axil.hex``, performs them on the AXI4-Lite port one transaction at a time and writes
  every response (and read data) to ``axil_out.hex``; ``axil_done`` rises once. In
  between, the AXI4-Lite port passes through to the testbench (cocotbext-axi) for the
  odd register access; its drivers sleep while no transaction is queued.

Its stand-alone variant (``plain=``) runs one batch by itself: an ``initial`` block writes
the weights and ``CONTROL`` over AXI4-Lite, loads the samples, streams them with no idle
cycles or stalls and ends with ``$finish``. That is the plain-testbench rate of the same
design, with no Python at all (:func:`plain_rate`: the regression summary's ``plain
steps/s`` and ``trtrl bench axi``).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from trtrl.pymodel.errors import TrtrlError
from trtrl.rtl.manifest import Manifest

__all__ = ["BATCH_TOP", "write_batch_harness", "write_hex", "read_hex", "HARNESS_SIGNALS",
           "axil_ops", "axil_responses", "axil_depth", "plain_rate"]

BATCH_TOP = "trtrl_axi_batch"
SAMPLES_HEX, LEARN_HEX, RESULTS_HEX = "samples.hex", "learn.hex", "results.hex"
AXIL_HEX, AXIL_OUT_HEX = "axil.hex", "axil_out.hex"
# what the testbench reads or drives through VPI (public in a ports-only Verilator build)
HARNESS_SIGNALS = ("aclk", "aresetn", "load", "go", "done", "batch_len", "src_seed",
                   "snk_seed", "src_idle", "snk_stall", "proto_errors", "results_seen",
                   "axil_load", "axil_go", "axil_done", "axil_len", "stream_cycles")


def axil_depth(man: Manifest) -> int:
    """Operations the sequencer holds: the whole state read back (K + 3 regions of N x L
    words, plus two counters) in one go; the weight load is smaller."""
    return (man.k + 3) * man.n * man.L + 2


def axil_ops(ops: list[tuple[int, int | None]], addr_bits: int) -> list[int]:
    """The sequencer's words of ``(address, data)`` operations (``None``: a read).

    One word per operation: ``{write, address, data}``, ``1 + addr_bits + 32`` bits.
    """
    words = []
    for addr, data in ops:
        if not 0 <= addr < 1 << addr_bits:
            raise ValueError(f"address {addr:#x} outside {addr_bits} bits")
        write = data is not None
        words.append((int(write) << (addr_bits + 32)) | (addr << 32)
                     | ((data or 0) & 0xFFFF_FFFF))
    return words


def axil_responses(words: list[int]) -> list[tuple[int, int]]:
    """``(response, read data)`` per operation from ``axil_out.hex`` (data 0 for writes)."""
    return [((w >> 32) & 3, w & 0xFFFF_FFFF) for w in words]


_AXIL_PORTS = """    input  wire [{a}:0] s_axil_awaddr,
    input  wire        s_axil_awvalid,
    output wire        s_axil_awready,
    input  wire [31:0] s_axil_wdata,
    input  wire [3:0]  s_axil_wstrb,
    input  wire        s_axil_wvalid,
    output wire        s_axil_wready,
    output wire [1:0]  s_axil_bresp,
    output wire        s_axil_bvalid,
    input  wire        s_axil_bready,
    input  wire [{a}:0] s_axil_araddr,
    input  wire        s_axil_arvalid,
    output wire        s_axil_arready,
    output wire [31:0] s_axil_rdata,
    output wire [1:0]  s_axil_rresp,
    output wire        s_axil_rvalid,
    input  wire        s_axil_rready"""


def _plain_block(man: Manifest, steps: int, control_word: int) -> str:
    """The stand-alone run: AXI4-Lite writes of weights.hex and CONTROL, one batch, done."""
    from trtrl.rtl.regmap import RegisterMap

    rmap = RegisterMap.from_json(man.details["registers"])
    nw = man.n * man.L
    aw = man.ports["s_axil_awaddr"]
    return f"""
    // -- stand-alone: the plain rate of the same design, no testbench process ----------
    reg  [{aw - 1}:0] s_axil_awaddr = 0, s_axil_araddr = 0;
    reg         s_axil_awvalid = 0, s_axil_wvalid = 0, s_axil_arvalid = 0;
    reg  [31:0] s_axil_wdata = 0;
    wire [3:0]  s_axil_wstrb = 4'hf;
    wire        s_axil_bready = 1'b1, s_axil_rready = 1'b1;
    wire        s_axil_awready, s_axil_wready, s_axil_bvalid, s_axil_arready, s_axil_rvalid;
    wire [1:0]  s_axil_bresp, s_axil_rresp;
    wire [31:0] s_axil_rdata;
    reg  [31:0] weights [0:{nw - 1}];
    integer i;
    task axil_write(input [{aw - 1}:0] a, input [31:0] d);
        begin
            @(negedge aclk);
            s_axil_awaddr = a; s_axil_wdata = d; s_axil_awvalid = 1; s_axil_wvalid = 1;
            @(negedge aclk);
            while (!s_axil_awready) @(negedge aclk);
            @(negedge aclk);
            s_axil_awvalid = 0; s_axil_wvalid = 0;
            while (!s_axil_bvalid) @(negedge aclk);
            @(negedge aclk);
        end
    endtask
    initial begin
        $readmemh("weights.hex", weights);
        // +steps=S streams only the first S samples: the start-up and the weight load
        // timed alone (plain_rate takes the difference of two runs)
        if (!$value$plusargs("steps=%d", batch_len)) batch_len = {steps};
        src_idle = 0; snk_stall = 0;
        repeat (4) @(posedge aclk);
        aresetn = 1'b1;
        repeat ({man.clear_cycles + 8}) @(posedge aclk);
        for (i = 0; i < {nw}; i = i + 1)
            axil_write({rmap.mem_base} + 4 * i, weights[i]);
        axil_write({rmap.offset("CONTROL")}, 32'h{control_word:08x});
        load = 1'b1;
        @(posedge aclk);
        go = 1'b1;
        @(posedge done);
        $display("TRTRL_PLAIN steps=%0d proto_errors=%0d", results_seen, proto_errors);
        $finish;
    end
"""


def _sequencer(aw: int, depth: int) -> str:
    """The AXI4-Lite sequencer and the mux that gives it the DUT's port while it runs."""
    return f"""
    // -- AXI4-Lite sequencer: the operations of {AXIL_HEX} in order, one at a time -------
    localparam XDEPTH = {depth}, AW = {aw};
    reg  [AW+32:0] xmem [0:XDEPTH-1];  // {{write, address, data}}
    reg  [33:0]    xout [0:XDEPTH-1];  // {{response, read data}}
    reg            axil_load = 1'b0, axil_go = 1'b0, axil_done = 1'b0;
    reg  [31:0]    axil_len = 0, x_ptr = 0;
    reg  [1:0]     x_state = 0;  // 0 next, 1 write in flight, 2 read in flight
    reg  [AW-1:0]  x_addr = 0;
    reg  [31:0]    x_data = 0;
    reg            x_awvalid = 1'b0, x_wvalid = 1'b0, x_arvalid = 1'b0;
    wire [AW+32:0] x_op = xmem[x_ptr];
    always @(posedge axil_load) $readmemh("{AXIL_HEX}", xmem);

    wire [AW-1:0] q_s_axil_awaddr  = axil_go ? x_addr : s_axil_awaddr;
    wire          q_s_axil_awvalid = axil_go ? x_awvalid : s_axil_awvalid;
    wire [31:0]   q_s_axil_wdata   = axil_go ? x_data : s_axil_wdata;
    wire [3:0]    q_s_axil_wstrb   = axil_go ? 4'hf : s_axil_wstrb;
    wire          q_s_axil_wvalid  = axil_go ? x_wvalid : s_axil_wvalid;
    wire          q_s_axil_bready  = axil_go ? 1'b1 : s_axil_bready;
    wire [AW-1:0] q_s_axil_araddr  = axil_go ? x_addr : s_axil_araddr;
    wire          q_s_axil_arvalid = axil_go ? x_arvalid : s_axil_arvalid;
    wire          q_s_axil_rready  = axil_go ? 1'b1 : s_axil_rready;
    wire          q_s_axil_awready, q_s_axil_wready, q_s_axil_bvalid;
    wire          q_s_axil_arready, q_s_axil_rvalid;
    wire [1:0]    q_s_axil_bresp, q_s_axil_rresp;
    wire [31:0]   q_s_axil_rdata;
    assign s_axil_awready = q_s_axil_awready & !axil_go;
    assign s_axil_wready  = q_s_axil_wready & !axil_go;
    assign s_axil_bvalid  = q_s_axil_bvalid & !axil_go;
    assign s_axil_bresp   = q_s_axil_bresp;
    assign s_axil_arready = q_s_axil_arready & !axil_go;
    assign s_axil_rvalid  = q_s_axil_rvalid & !axil_go;
    assign s_axil_rresp   = q_s_axil_rresp;
    assign s_axil_rdata   = q_s_axil_rdata;

    always @(posedge aclk) begin
        if (!axil_go) begin
            x_state <= 0; x_ptr <= 0; axil_done <= 1'b0;
            x_awvalid <= 1'b0; x_wvalid <= 1'b0; x_arvalid <= 1'b0;
        end else case (x_state)
            2'd0: if (x_ptr == axil_len) begin
                if (!axil_done && axil_len != 0)
                    $writememh("{AXIL_OUT_HEX}", xout, 0, axil_len - 1);
                axil_done <= 1'b1;
            end else begin
                x_addr <= x_op[AW+31:32];
                x_data <= x_op[31:0];
                if (x_op[AW+32]) begin
                    x_awvalid <= 1'b1; x_wvalid <= 1'b1; x_state <= 2'd1;
                end else begin
                    x_arvalid <= 1'b1; x_state <= 2'd2;
                end
            end
            2'd1: begin
                if (q_s_axil_awready) x_awvalid <= 1'b0;
                if (q_s_axil_wready) x_wvalid <= 1'b0;
                if (q_s_axil_bvalid) begin
                    xout[x_ptr] <= {{q_s_axil_bresp, 32'h0}};
                    x_ptr <= x_ptr + 1; x_state <= 2'd0;
                end
            end
            default: begin
                if (q_s_axil_arready) x_arvalid <= 1'b0;
                if (q_s_axil_rvalid) begin
                    xout[x_ptr] <= {{q_s_axil_rresp, q_s_axil_rdata}};
                    x_ptr <= x_ptr + 1; x_state <= 2'd0;
                end
            end
        endcase
    end
"""


def write_batch_harness(man: Manifest, path: Path, depth: int, clock_ns: float = 10.0,
                        plain: tuple[int, int] | None = None, hdl_clock: bool = True) -> Path:
    """Write ``trtrl_axi_batch`` for the AXI top of ``man``, holding ``depth`` samples.

    ``hdl_clock=False`` makes ``aclk`` an input for the testbench's clock (Verilator
    under cocotb: its ``--timing`` scheduler stalled there with VPI writes in flight).
    ``plain=(steps, control_word)`` writes the stand-alone variant instead: no ports, the
    weights from ``weights.hex`` and ``CONTROL`` written over AXI4-Lite by an ``initial``
    block, one batch of ``steps`` samples, ``$finish``.
    """
    s = man.details["streams"]
    tw, sb, rb = int(s["tdata_bits"]), int(s["sample_beats"]), int(s["result_beats"])
    aw = man.ports["s_axil_awaddr"]
    half = clock_ns / 2
    ports = "" if plain else "(\n" + _AXIL_PORTS.format(a=aw - 1) + (
        "" if hdl_clock else ",\n    input  wire        aclk") + "\n)"
    seq = "" if plain else _sequencer(aw, axil_depth(man))
    axil = "" if plain else "q_"  # the DUT's AXI4-Lite nets: the sequencer's mux
    clock = (f"reg aclk = 1'b0;\n    always #{half:g} aclk = ~aclk;" if hdl_clock or plain
             else "// aclk: driven by the testbench's (C++) clock")
    text = f"""// {BATCH_TOP}: the HDL batch harness of {man.top} (testbenches/batch.py); testbench
// code, not part of the design.
`timescale 1ns/1ps
module {BATCH_TOP} {ports};
    localparam DEPTH = {depth}, SB = {sb}, RB = {rb}, TW = {tw};
    {clock}
    reg aresetn = 1'b0;
    reg load = 1'b0, go = 1'b0, done = 1'b0;
    reg [31:0] batch_len = 0, src_seed = 1, snk_seed = 2;
    reg [7:0] src_idle = 0, snk_stall = 0;  // pause when the LFSR's low byte is below
    reg [31:0] proto_errors = 0, results_seen = 0;
    reg [31:0] stream_cycles = 0;  // cycles with a batch in flight, over the whole run
    always @(posedge aclk) if (go && !done) stream_cycles <= stream_cycles + 1;

    reg [TW-1:0] smem [0:DEPTH*SB-1];
    reg [0:0]    lmem [0:DEPTH-1];
    reg [TW-1:0] rmem [0:DEPTH*RB-1];

    always @(posedge load) begin
        $readmemh("{SAMPLES_HEX}", smem);
        $readmemh("{LEARN_HEX}", lmem);
    end

    function [31:0] lfsr(input [31:0] v);  // x^32 + x^22 + x^2 + x + 1
        lfsr = {{v[30:0], v[31] ^ v[21] ^ v[1] ^ v[0]}};
    endfunction

    // -- samples in ------------------------------------------------------------------
    reg  [TW-1:0] s_tdata = 0;
    reg           s_tvalid = 1'b0, s_tlast = 1'b0, s_tuser = 1'b0;
    wire          s_tready;
    reg  [31:0]   src_lfsr = 1, s_ptr = 0, s_beat = 0, s_step = 0;
    wire          s_more = s_step < batch_len;
    wire          s_pause = src_lfsr[7:0] < src_idle;
    always @(posedge aclk) begin
        if (!go) begin
            s_tvalid <= 1'b0; s_ptr <= 0; s_beat <= 0; s_step <= 0; src_lfsr <= src_seed;
        end else begin
            src_lfsr <= lfsr(src_lfsr);
            if (!s_tvalid || s_tready) begin
                if (s_more && !s_pause) begin
                    s_tvalid <= 1'b1;
                    s_tdata <= smem[s_ptr];
                    s_tlast <= s_beat == SB - 1;
                    s_tuser <= lmem[s_step];
                    s_ptr <= s_ptr + 1;
                    if (s_beat == SB - 1) begin
                        s_beat <= 0; s_step <= s_step + 1;
                    end else s_beat <= s_beat + 1;
                end else s_tvalid <= 1'b0;
            end
        end
    end

    // -- results out -------------------------------------------------------------------
    wire [TW-1:0] m_tdata;
    wire          m_tvalid, m_tlast;
    reg  [31:0]   snk_lfsr = 2, r_ptr = 0, r_beat = 0;
    reg           m_tready = 1'b0;
    reg           held = 1'b0;  // last cycle's beat was offered and not taken
    reg  [TW:0]   held_beat = 0;
    reg           finish = 1'b0;
    always @(posedge aclk) begin
        if (!go) begin
            m_tready <= 1'b0; r_ptr <= 0; r_beat <= 0; snk_lfsr <= snk_seed; held <= 1'b0;
            done <= 1'b0; finish <= 1'b0; results_seen <= 0;
        end else begin
            snk_lfsr <= lfsr(snk_lfsr);
            m_tready <= !(snk_lfsr[7:0] < snk_stall);
            if (held && (!m_tvalid || {{m_tlast, m_tdata}} != held_beat))
                proto_errors <= proto_errors + 1;
            held <= m_tvalid && !m_tready;
            held_beat <= {{m_tlast, m_tdata}};
            if (m_tvalid && m_tready) begin
                if (m_tlast != (r_beat == RB - 1)) proto_errors <= proto_errors + 1;
                rmem[r_ptr] <= m_tdata;
                r_ptr <= r_ptr + 1;
                if (r_beat == RB - 1) begin
                    r_beat <= 0;
                    results_seen <= results_seen + 1;
                    if (results_seen + 1 == batch_len) finish <= 1'b1;
                end else r_beat <= r_beat + 1;
            end
            if (finish && !done) begin
                $writememh("{RESULTS_HEX}", rmem, 0, batch_len * RB - 1);
                done <= 1'b1;
            end
        end
    end

{seq}
    {man.top} dut (
        .aclk(aclk), .aresetn(aresetn),
        .s_axis_tdata(s_tdata), .s_axis_tvalid(s_tvalid), .s_axis_tready(s_tready),
        .s_axis_tlast(s_tlast), .s_axis_tuser(s_tuser),
        .m_axis_tdata(m_tdata), .m_axis_tvalid(m_tvalid), .m_axis_tready(m_tready),
        .m_axis_tlast(m_tlast),
        .s_axil_awaddr({axil}s_axil_awaddr), .s_axil_awvalid({axil}s_axil_awvalid),
        .s_axil_awready({axil}s_axil_awready), .s_axil_wdata({axil}s_axil_wdata),
        .s_axil_wstrb({axil}s_axil_wstrb), .s_axil_wvalid({axil}s_axil_wvalid),
        .s_axil_wready({axil}s_axil_wready), .s_axil_bresp({axil}s_axil_bresp),
        .s_axil_bvalid({axil}s_axil_bvalid), .s_axil_bready({axil}s_axil_bready),
        .s_axil_araddr({axil}s_axil_araddr), .s_axil_arvalid({axil}s_axil_arvalid),
        .s_axil_arready({axil}s_axil_arready), .s_axil_rdata({axil}s_axil_rdata),
        .s_axil_rresp({axil}s_axil_rresp), .s_axil_rvalid({axil}s_axil_rvalid),
        .s_axil_rready({axil}s_axil_rready)
    );

{_plain_block(man, *plain) if plain else ""}endmodule
"""
    path.write_text(text)
    return path


def plain_rate(man_path: Path, verilog: Path, stim_path: Path, sim: str, work: Path) -> float:
    """Steps/s of the stand-alone harness: the design with no Python attached (the
    regression's ``plain steps/s`` and ``trtrl bench axi``'s plain column)."""
    import numpy as np

    from trtrl.rtl.regmap import RegisterMap
    from trtrl.rtl.toolchain import verilator_env

    man = Manifest.read(man_path)
    stim = np.load(stim_path)
    x_q, d_q, w0_q = stim["x_q"], stim["d_q"], stim["w0_q"]
    steps = int(x_q.shape[0])
    rmap = RegisterMap.from_json(man.details["registers"])
    control = rmap.encode("CONTROL", LEARN_FROM_TUSER=1, LR_SHIFT=int(stim["lr_shift"]))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tw = int(man.details["streams"]["tdata_bits"])
    harness = write_batch_harness(man, work / "plain.v", steps, plain=(steps, control))
    write_hex(work / SAMPLES_HEX, [int(v) for t in range(steps) for v in (*x_q[t], *d_q[t])],
              tw)
    learn = stim["learn_steps"] if "learn_steps" in stim.files else [1] * steps
    write_hex(work / LEARN_HEX, [int(v) for v in learn], 1)
    write_hex(work / "weights.hex", [int(v) for v in np.asarray(w0_q).ravel()], 32)
    if sim == "icarus":
        build = ["iverilog", "-g2005", "-o", "plain.vvp", str(harness), str(verilog)]
        run = ["vvp", "-n", "plain.vvp"]
    else:
        verilator_env()
        build = ["verilator", "--binary", "--timing", "-CFLAGS", "-std=c++20 -fcoroutines",
                 "-O3", "-Wno-fatal", "-Wno-lint",
                 "-Wno-style", "--top-module", "trtrl_axi_batch", "-Mdir", "obj",
                 str(harness), str(verilog)]
        run = ["obj/Vtrtrl_axi_batch"]
    proc = subprocess.run(build, cwd=work, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TrtrlError(f"plain harness: build failed: {proc.stderr[-800:]}")

    def timed(n: int) -> float:
        t0 = time.perf_counter()
        proc = subprocess.run([*run, f"+steps={n}"], cwd=work, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or f"TRTRL_PLAIN steps={n} proto_errors=0" not in proc.stdout:
            raise TrtrlError(f"plain harness on {sim}: {proc.stdout[-400:]}{proc.stderr[-400:]}")
        return wall

    # the streaming alone: a one-step run times the process start and the weight load.
    # Best of three on Verilator, whose runs take a fraction of a second (one run would
    # measure the machine's other load as much as the design); Icarus runs take seconds.
    repeats = 3 if sim == "verilator" else 1

    def best(n: int) -> float:
        return min(timed(n) for _ in range(repeats))

    wall = best(steps) - best(1) if steps > 1 else best(steps)
    return (steps - 1 if steps > 1 else steps) / max(wall, 1e-9)


def write_hex(path: Path, words: list[int], bits: int) -> Path:
    """One word per line, ``bits`` wide, as ``$readmemh`` reads them."""
    digits = -(-bits // 4)
    mask = (1 << bits) - 1
    path.write_text("".join(f"{w & mask:0{digits}x}\n" for w in words))
    return path


def read_hex(path: Path) -> list[int]:
    """The words ``$writememh`` wrote (skipping its ``//`` address comments)."""
    out = []
    for line in path.read_text().split("\n"):
        line = line.strip()
        if line and not line.startswith("//"):
            out.append(int(line, 16))
    return out
