"""Parameters of the TRTRL neuron array, validated before any MyHDL is elaborated.

:class:`ArrayConfig` is the one place where the array's sizes, derived widths, the
cycle count of a step, the memories and the multipliers of the folded core
(``rtl/folded.py``) are computed; the generator, the manifest, the tests and
``rtl/README.md`` all quote it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from trtrl.pymodel.errors import ConfigError
from trtrl.pymodel.fixed.formats import FixedConfig
from trtrl.pymodel.network import Shape

LR_SHIFT_BITS = 5  # the lr_shift port: learning rates 2**0 .. 2**-31
COUNTER_BITS = 32  # step_count and sat_count
VERILOG_FILE = "trtrl_array.v"
MANIFEST_FILE = "trtrl_array.json"
TOP = "trtrl_array"
AXI_TOP = "trtrl_axi"  # the core inside the bus shell (rtl/shell.py)
REGS_HEADER = "trtrl_regs.h"  # the AXI top's register map for C drivers

# The array's ports, in the order of its port list (rtl/README.md); widths: ArrayConfig.ports.
PORTS = (
    "clk", "rst", "s_valid", "s_ready", "s_x", "s_d", "r_valid", "r_y", "r_e", "learn",
    "lr_shift", "clear", "busy", "m_addr", "m_wdata", "m_we", "m_re", "m_rdata", "m_rvalid",
    "step_count", "sat_count",
)


def clog2(v: int) -> int:
    """Bits of an index into ``v`` entries (at least 1)."""
    return max(1, math.ceil(math.log2(max(v, 2))))


SIGN_EXTENSIONS = ("signed", "concat")  # the forms rtl.blocks.sext can write

# The infix of the lanes' copies of broadcast flags (rtl/folded.py names them lcp_*):
# the synthesis script keeps them from being merged back into one register.
LANE_COPY = "_lcp_"

# The most lanes the default gives: at P = 10 the paper's N = 100, K = 10 routes on the
# LFE5U-85F (156 of its 208 block RAMs, every lane memory full); at P = 20 it needs 196,
# most of them half empty, and does not route (rtl/README.md, "ECP5").
DEFAULT_LANES = 10


def default_lanes(n: int) -> int:
    """P when none is given: the fewest lanes that take ``n`` neurons in as few row groups
    as ``DEFAULT_LANES`` lanes would (N = 15: 2 groups on 8 lanes, not 10 with 5 idle)."""
    groups = -(-n // DEFAULT_LANES)
    return -(-n // groups)

# Pipeline depths of the folded core (rtl/folded.py), in clock edges; the cycle formula,
# clear sweep and read latency below are computed from them.
FOLD_FWD_ACC = 5  # forward issue -> the lane's running sum holds the product
FOLD_ACT = 7  # a neuron's sum enters the activation unit -> y, f', e written
FOLD_SENS = 8  # a quantity issued at slot cycle u -> its new value written (u + 8)
FOLD_WEIGHT = 13  # the slot's last output quantity (u = K-1) -> the weight written
FOLD_HOST = 10  # m_re sampled -> m_rvalid (decode 7, memory, data register, lane, OR)
FOLD_PRE = 14  # prefetch beyond max(K, P): the last sums' activations (they bound it: with
# FOLD_ACT = 7 the MyHDL random and lanes tests pass down to 13), the first operands
FOLD_DRAIN = 12  # the last slot's weight written and its events counted
# The step's clock edges (ArrayConfig.fold_cycles), R = ceil(N / P).
CYCLES_FORMULA = f"R*L*(K+3) + max(K, P) + {FOLD_PRE + FOLD_DRAIN + 1}"


@dataclass(frozen=True)
class ArrayConfig:
    """``n`` neurons, ``m`` inputs, ``k`` outputs and the fixed-point formats.

    ``sign_extension`` is only the Verilog text of the sign extensions: ``"signed"``
    (``assign d = $signed(s);``, the default) or ``"concat"`` (``{{k{s[msb]}}, s}``, the
    earlier form, about half as fast in Icarus; ``trtrl bench sim`` compares them). The
    hardware is the same, so it is not in the manifest.
    """

    n: int
    m: int
    k: int
    fixed: FixedConfig = field(default_factory=FixedConfig)
    sign_extension: str = "signed"
    lanes: int | None = None  # P; default default_lanes(N)

    def __post_init__(self) -> None:
        for name, value in (("neurons", self.n), ("inputs", self.m), ("outputs", self.k)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name}: expected an integer, got {value!r}")
        if self.n < 1:
            raise ConfigError(f"neurons: need at least one neuron, got {self.n}")
        if self.m < 0:
            raise ConfigError(f"inputs: must be >= 0, got {self.m}")
        if self.k < 1:
            raise ConfigError(f"outputs: need at least one output, got {self.k}")
        if self.k > self.n:
            raise ConfigError(f"outputs: K={self.k} cannot exceed neurons N={self.n}")
        Shape(self.n, self.m, self.k).validate()
        if not isinstance(self.fixed, FixedConfig):
            raise ConfigError(f"fixed: expected a FixedConfig, got {type(self.fixed).__name__}")
        if self.sign_extension not in SIGN_EXTENSIONS:
            raise ConfigError(f"sign_extension: unknown {self.sign_extension!r} "
                              f"(one of {', '.join(SIGN_EXTENSIONS)})")
        lanes = default_lanes(self.n) if self.lanes is None else self.lanes
        if isinstance(lanes, bool) or not isinstance(lanes, int) or not 1 <= lanes <= self.n:
            raise ConfigError(f"lanes: need 1 <= P <= N = {self.n}, got {lanes!r}")
        object.__setattr__(self, "lanes", lanes)
        # The manifest and the Verilog see the accumulator width this network needs.
        object.__setattr__(self, "fixed", self.fixed.sized_for(self.L, self.k))
        if self.n * self.L > 1 << 24:
            raise ConfigError(f"neurons: N={self.n} gives {self.n * self.L} weights, above 2**24")

    # -- sizes -----------------------------------------------------------------------
    @property
    def L(self) -> int:  # the spec's name
        return self.m + 1 + self.n

    @property
    def grad_base_shift(self) -> int:
        """``A.frac + P.frac - W.frac``: the gradient shift at ``lr_shift = 0``."""
        f = self.fixed
        return f.act.frac + f.sens.frac - f.weight.frac

    @property
    def dp_bits(self) -> int:
        """Width of the internal datapath (sums, rounding, saturation compares).

        Every product is formed at its exact width (operand totals summed) and only
        then sign-extended to this width, so this bound is about sums: the forward
        accumulator, the sensitivity sum, the gradient sum plus head-room for the
        run-time gradient shift of up to ``base + 31`` bits.
        """
        f = self.fixed
        a, w, p = f.act, f.weight, f.sens
        need = [
            f.acc_bits,
            f.sens_acc_bits + 1,
            f.grad_bits(self.k) + 2,
            2 * a.total + 2,
            w.total + 2,
            a.total + p.total + 1,
            self.grad_base_shift + (1 << LR_SHIFT_BITS) + 2,
        ]
        return max(need) + 1

    @property
    def idx_bits(self) -> int:
        return clog2(self.n * self.L)

    @property
    def region_bits(self) -> int:
        return clog2(self.k + 3)

    @property
    def addr_bits(self) -> int:
        return self.region_bits + self.idx_bits

    @property
    def data_bits(self) -> int:
        return max(self.fixed.weight.total, self.fixed.sens.total)

    # -- schedule --------------------------------------------------------------------
    def cycles_per_step(self) -> int:
        """Clock edges from the accepting handshake to the next edge with ``s_ready = 1``
        (the phases: :meth:`fold_cycles`)."""
        return sum(self.fold_cycles().values())

    # -- the folded core's plan (rtl/folded.py, rtl/README.md) -------------------------
    @property
    def groups(self) -> int:
        """``R = ceil(N / P)``: row groups; lane ``p`` serves rows ``P r + p``."""
        return -(-self.n // self.lanes)

    @property
    def slot_cycles(self) -> int:
        """``S = K + 2``: cycles per weight, one kept quantity a cycle."""
        return self.k + 2

    @property
    def shadow_stride(self) -> int:
        """``C = R P``: words per row of a shadow bank (columns padded to whole groups)."""
        return self.groups * self.lanes

    @property
    def row_words(self) -> int:
        """Words of a lane's weight, ingress and egress memories: ``R L``."""
        return self.groups * self.L

    @property
    def pout_bits(self) -> int:
        """A lane's ``p_out`` memory holds output ``k`` at ``k * 2**pout_bits + r L + j``."""
        return clog2(self.row_words)

    @property
    def pout_addr_bits(self) -> int:
        """A lane's ``p_out`` address: ``k`` (none for ``K = 1``) above the row word."""
        return self.pout_bits + (clog2(self.k) if self.k > 1 else 0)

    @property
    def pre_cycles(self) -> int:
        """Between forward and update: the last sums through the activation unit, the first
        group's coefficients and the first slot's operands fetched."""
        return max(self.k, self.lanes) + FOLD_PRE

    def fold_cycles(self) -> dict[str, int]:
        """The folded core's step, phase by phase (sums to :meth:`cycles_per_step`)."""
        rl = self.row_words
        return {
            "forward": rl,  # R L weights a lane, one MAC a cycle
            "prefetch": self.pre_cycles,
            "update": rl * self.slot_cycles,  # R L slots of K + 2 cycles
            "drain": FOLD_DRAIN,
            "done": 1,
        }

    @property
    def clear_cycles(self) -> int:
        """Cycles ``busy`` stays high after ``rst`` or ``clear``: one word a cycle through
        the deepest memory."""
        return max(self.k << self.pout_bits, self.groups * self.shadow_stride,
                   2 << clog2(self.n), self.row_words, 2 << clog2(self.k),
                   1 << clog2(self.groups))

    @property
    def read_latency(self) -> int:
        """``m_rvalid`` rises this many clock edges after the edge that sampled ``m_re``."""
        return FOLD_HOST

    # -- what the folded core is built of ------------------------------------------------
    def memories(self) -> dict[str, dict[str, int | str]]:
        """Every memory of the core as declared in ``rtl/folded.py``: ``count`` instances
        of ``depth`` words of ``width`` bits (depths padded as the address widths need),
        ``kind`` "ram" (synchronous read: block RAM), "regfile" (asynchronous read, a
        few words: distributed RAM or flip-flops) or "rom" (the activation table)."""
        f, p, k = self.fixed, self.lanes, self.k
        wt, st, at = f.weight.total, f.sens.total, f.act.total
        yb, kb = clog2(self.n), clog2(k)
        rl = self.row_words

        def mem(kind: str, count: int, depth: int, width: int) -> dict[str, int | str]:
            return {"kind": kind, "count": count, "depth": depth, "width": width,
                    "bits": count * depth * width}

        return {
            "weights": mem("ram", p, rl, wt),  # lane p: W[P r + p, j] at r L + j
            "p_ing": mem("ram", p, rl, st),
            "p_egr": mem("ram", p, rl, st),
            "p_out": mem("ram", p, k << self.pout_bits, st),
            "shadow": mem("ram", p, self.groups * self.shadow_stride, wt),
            "w_row": mem("ram", k, 1 << yb, wt),  # W[k, M+1+b], one bank per output
            "y": mem("ram", 1, 2 << yb, at),  # y(t) and y(t+1)
            "fp": mem("ram", 1, 1 << yb, at),
            "fp_rows": mem("regfile", p, 1 << clog2(self.groups), at),
            "w_out_rows": mem("regfile", p, 2 << kb, wt),
            "fp_out": mem("regfile", 1, 1 << kb, at),
            "e_out": mem("regfile", 1, 1 << kb, at),
            "activation": mem("rom", 1, 1 << f.lut_bits, at),
        }

    def storage_words(self) -> dict[str, int]:
        """Words of learning state (weights and kept sensitivities, what the host port
        reaches) and words of every memory as declared (``memories``)."""
        return {"state": self.n * self.L * (self.k + 3),
                "declared": sum(int(m["count"]) * int(m["depth"])
                                for m in self.memories().values())}

    @property
    def multipliers(self) -> int:
        """``4 P + 1``: per lane the two sensitivity products (the first is also the forward
        MAC), the ``f'`` product and the gradient product; one ``f'(y)`` product in the
        activation unit."""
        return 4 * self.lanes + 1

    def useful_multiplies(self) -> int:
        """Products a step's arithmetic needs (``pymodel/FIXED_POINT.md``): the forward
        sums (``N L``); three (two sensitivity terms and ``f'``) per computed sensitivity:
        every output one (``K N L``), the ingress of a non-output row (``(N - K) L``), the
        egress of a recurrent column of a non-output neuron ``m != i`` (``(N - 1)(N - K)``);
        the gradient (``K N L``) and ``f'`` of every neuron (``N``). Copies, structural
        zeros, padding rows (``R P > N``) and idle phases are not useful."""
        n, k, L = self.n, self.k, self.L
        computed = k * n * L + (n - k) * L + (n - 1) * (n - k)
        return n * L + 3 * computed + k * n * L + n

    @property
    def multiplier_utilisation(self) -> float:
        """:meth:`useful_multiplies` over ``multipliers x cycles_per_step``."""
        return self.useful_multiplies() / (self.multipliers * self.cycles_per_step())

    # -- manifest ----------------------------------------------------------------------
    def ports(self) -> dict[str, int]:
        a = self.fixed.act.total
        widths = {
            "clk": 1,
            "rst": 1,
            "s_valid": 1,
            "s_ready": 1,
            "s_x": max(1, self.m * a),
            "s_d": self.k * a,
            "r_valid": 1,
            "r_y": self.n * a,
            "r_e": self.k * a,
            "learn": 1,
            "lr_shift": LR_SHIFT_BITS,
            "clear": 1,
            "busy": 1,
            "m_addr": self.addr_bits,
            "m_wdata": self.data_bits,
            "m_we": 1,
            "m_re": 1,
            "m_rdata": self.data_bits,
            "m_rvalid": 1,
            "step_count": COUNTER_BITS,
            "sat_count": COUNTER_BITS,
        }
        return {name: widths[name] for name in PORTS}
