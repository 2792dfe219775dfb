"""A stand-in DUT for testing the testbench itself: it plays back the reference model.

:func:`write_playback_dut` writes a small Verilog module with the ``trtrl_array`` port
list whose outputs and memory read-back come from tables filled with the fixed-point
model's results for one configuration's stimulus. It has the interface's timing (a busy
phase of ``cycles_per_step`` cycles, one-cycle ``r_valid`` pulse, memory reads with
one cycle of latency, a clear after reset) but no arithmetic. The infrastructure tests
(bring-your-own RTL, port checks, waveforms, fault injection on a table value) run on it
without the MyHDL generator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trtrl.pymodel.fixed.model import quantize_case
from trtrl.rtl.config import MANIFEST_FILE, ArrayConfig
from trtrl.rtl.manifest import Manifest
from trtrl.testbenches.configs import TbConfig
from trtrl.testbenches.stimulus import make_case

CYCLES_PER_STEP = 7
CLEAR_CYCLES = 4


def _hex(value: int, bits: int) -> str:
    return f"{bits}'h{value & ((1 << bits) - 1):x}"


def write_playback_dut(cfg: TbConfig, out_dir: Path, top: str = "trtrl_array") -> tuple[Path, Path]:
    """Write ``<top>.v`` and ``trtrl_array.json`` for ``cfg``'s stimulus; return both paths."""
    from trtrl.pymodel.fixed.model import FixedTRTRL, lr_shift_from_lr

    fixed = cfg.fixed()
    case = make_case(cfg)
    x_q, d_q, w0_q = quantize_case(case, fixed)
    shift = cfg.lr_shift if cfg.lr_shift is not None else lr_shift_from_lr(case.lr)
    model = FixedTRTRL(w0_q, cfg.m, cfg.k, fixed, shift)
    n, m, k, L, T = cfg.n, cfg.m, cfg.k, cfg.m + 1 + cfg.n, cfg.steps
    nl = n * L
    array = ArrayConfig(n, m, k, fixed)  # the array's address map and ports, copied
    idx_bits, addr_bits, regions = array.idx_bits, array.addr_bits, k + 3
    a = fixed.act.total
    wb = max(fixed.weight.total, fixed.sens.total)

    def state_words() -> list[int]:
        words = list(model.w.ravel()) + list(model.p_out.ravel())
        return [int(v) for v in words + list(model.p_ing.ravel()) + list(model.p_egr.ravel())]

    states, sats, ys, es = [state_words()], [0], [], []
    for t in range(T):
        y, e = model.step(x_q[t], d_q[t])
        ys.append(sum((int(v) & ((1 << a) - 1)) << (i * a) for i, v in enumerate(y)))
        es.append(sum((int(v) & ((1 << a) - 1)) << (i * a) for i, v in enumerate(e)))
        states.append(state_words())
        sats.append(int(model.sat_count))
    init = []
    for t in range(T):
        init.append(f"    rom_y[{t}] = {_hex(ys[t], n * a)}; rom_e[{t}] = {_hex(es[t], k * a)};")
    for t, words in enumerate(states):
        init.append(f"    rom_sat[{t}] = {sats[t]};")
        for r in range(regions):
            for idx in range(nl):
                init.append(f"    rom_s[{(t * regions + r) * nl + idx}] = "
                            f"{_hex(words[r * nl + idx], wb)};")
    sx = max(1, m * a)
    verilog = f"""// Playback stand-in for trtrl_array (testbench self-test); generated.
module {top} (
    input clk, input rst,
    input s_valid, output reg s_ready, input [{sx - 1}:0] s_x, input [{k * a - 1}:0] s_d,
    output reg r_valid, output reg [{n * a - 1}:0] r_y, output reg [{k * a - 1}:0] r_e,
    input learn, input [4:0] lr_shift, input clear, output reg busy,
    input [{addr_bits - 1}:0] m_addr, input [{wb - 1}:0] m_wdata, input m_we, input m_re,
    output reg [{wb - 1}:0] m_rdata, output reg m_rvalid,
    output reg [31:0] step_count, output reg [31:0] sat_count
);
  reg [{n * a - 1}:0] rom_y [0:{T - 1}];
  reg [{k * a - 1}:0] rom_e [0:{T - 1}];
  reg [{wb - 1}:0] rom_s [0:{(T + 1) * regions * nl - 1}];
  reg [31:0] rom_sat [0:{T}];
  reg [15:0] count;
  reg stepping;
  integer region;
  initial begin
{chr(10).join(init)}
  end
  always @(posedge clk) begin
    r_valid <= 1'b0;
    m_rvalid <= 1'b0;
    if (rst) begin
      busy <= 1'b1; s_ready <= 1'b0; count <= {CLEAR_CYCLES}; step_count <= 0; sat_count <= 0;
      r_y <= 0; r_e <= 0; m_rdata <= 0;
    end else if (busy) begin
      if (count == 1) begin
        busy <= 1'b0; s_ready <= 1'b1;
      end
      count <= count - 1;
      if (count == 1 && stepping) begin
        r_valid <= 1'b1; r_y <= rom_y[step_count]; r_e <= rom_e[step_count];
        step_count <= step_count + 1; sat_count <= rom_sat[step_count + 1];
      end
    end else if (s_valid && s_ready) begin
      busy <= 1'b1; s_ready <= 1'b0; count <= {CYCLES_PER_STEP};
    end else if (m_re) begin
      region = m_addr >> {idx_bits};
      m_rdata <= rom_s[(step_count * {regions} + region) * {nl} + (m_addr & {(1 << idx_bits) - 1})];
      m_rvalid <= 1'b1;
    end
  end
  always @(posedge clk) begin
    if (rst) stepping <= 1'b0;
    else if (!busy && s_valid && s_ready) stepping <= 1'b1;
    else if (busy && count == 1) stepping <= 1'b0;
  end
endmodule
"""
    out_dir.mkdir(parents=True, exist_ok=True)
    vpath = out_dir / f"{top}.v"
    vpath.write_text(verilog)
    manifest = Manifest(
        n=n, m=m, k=k, fixed=fixed, cycles_per_step=CYCLES_PER_STEP,
        clear_cycles=CLEAR_CYCLES, read_latency=1, addr_bits=addr_bits, idx_bits=idx_bits,
        ports=array.ports(), top=top, verilog=vpath.name, generator="testbenches.playback",
        details={"playback": True, "steps": T},
    )
    mpath = manifest.write(out_dir / MANIFEST_FILE)
    np.save(out_dir / "expected_sat.npy", np.array(sats))
    return vpath, mpath
