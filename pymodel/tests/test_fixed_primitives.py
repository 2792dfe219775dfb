"""Primitives, the activation table and configuration checks of the fixed-point model."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from trtrl.pymodel.errors import CaseError, ConfigError
from trtrl.pymodel.fixed import (
    FixedConfig,
    FixedFormat,
    FixedTRTRL,
    build_lut,
    fixed_trace,
    lr_shift_from_lr,
    lut_lookup,
    quantize,
    quantize_case,
    rshift_round,
    saturate,
)

# -- primitives -----------------------------------------------------------------------


def test_rshift_round_is_half_up_including_negatives() -> None:
    v = np.array([5, 6, 7, -5, -6, -7, -8, 4, -4, 0], dtype=np.int64)
    # v / 4 = 1.25 1.5 1.75 -1.25 -1.5 -1.75 -2 1 -1 0 -> half up
    assert rshift_round(v, 2).tolist() == [1, 2, 2, -1, -1, -2, -2, 1, -1, 0]
    assert rshift_round(v, 0).tolist() == v.tolist()
    assert rshift_round(np.array([-1, 1, -3, 3]), 1).tolist() == [0, 1, -1, 2]  # -0.5 -> 0
    rng = np.random.default_rng(0)
    r = rng.integers(-(2**40), 2**40, size=2000)
    for s in (1, 3, 17):
        expect = [math.floor(int(a) / 2**s + 0.5) for a in r]
        assert rshift_round(r, s).tolist() == expect


def test_saturate_clamps_and_counts_changed_elements() -> None:
    fmt = FixedFormat(4, 2)  # [-8, 7]
    v = np.array([-9, -8, 0, 7, 8, 100, -100])
    out, events = saturate(v, fmt)
    assert out.tolist() == [-8, -8, 0, 7, 7, 7, -8]
    assert events == 4
    assert saturate(np.array([1, 2]), fmt)[1] == 0


def test_quantize_rounds_half_up_and_saturates_without_error() -> None:
    fmt = FixedFormat(8, 4)  # step 1/16, range [-8, 127/16]
    x = np.array([0.03125, -0.03125, 1.0, -1.0, 100.0, -100.0, 0.0937])
    assert quantize(x, fmt).tolist() == [1, 0, 16, -16, 127, -128, 1]
    with pytest.raises(CaseError):
        quantize(np.array([np.nan]), fmt)


# -- the activation table -------------------------------------------------------------


def _max_slope(activation: str, lo: float, hi: float) -> float:
    """Largest |f'| on [lo, hi]: both f' peak at 0 and decrease away from it."""
    nearest = 0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi))
    if activation == "tanh":
        return 1.0 - math.tanh(nearest) ** 2
    sig = 1.0 / (1.0 + math.exp(-nearest))
    return sig * (1.0 - sig)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("lut_bits", [6, 10, 12])
def test_lut_within_half_lsb_plus_bin_slope(activation: str, lut_bits: int) -> None:
    """Every table entry is f at its bin centre rounded to A (|err| <= LSB/2), so any s in
    the bin is within LSB/2 + max|f'| * (bin width)/2 of the entry (mean value theorem)."""
    cfg = FixedConfig(lut_bits=lut_bits, activation=activation)
    lut = build_lut(cfg)
    assert lut.dtype == np.int64 and lut.shape == (2**lut_bits,)
    lsb = 2.0 ** -cfg.act.frac
    width = 2.0 ** (cfg.lut_range + 1 - lut_bits)
    f = np.tanh if activation == "tanh" else (lambda v: 1.0 / (1.0 + np.exp(-v)))
    lo = -(2.0**cfg.lut_range) + np.arange(2**lut_bits) * width  # bin edges
    centres = lo + width / 2
    assert np.all(np.abs(lut * lsb - f(centres)) <= lsb / 2 + 1e-15)
    slopes = np.array([_max_slope(activation, a, a + width) for a in lo])
    bound = lsb / 2 + slopes * width / 2 + 1e-15
    for edge in (lo, lo + width):  # f monotonic: the worst point of a bin is an edge
        assert np.all(np.abs(lut * lsb - f(edge)) <= bound)
    # lut_lookup maps a raw accumulator value to its bin: random s inside the range.
    frac = cfg.weight.frac + cfg.act.frac
    rng = np.random.default_rng(lut_bits)
    s = rng.uniform(-(2.0**cfg.lut_range), 2.0**cfg.lut_range, size=5000)
    raw = np.floor(s * 2.0**frac).astype(np.int64)
    got = lut_lookup(raw, cfg) * lsb
    bins = np.floor((raw / 2.0**frac + 2.0**cfg.lut_range) / width).astype(int)
    assert np.all(np.abs(got - f(raw / 2.0**frac)) <= bound[bins])
    # Outside the range the index clamps to the end bins.
    big = np.array([2**60, -(2**60)], dtype=np.int64)
    assert lut_lookup(big, cfg).tolist() == [lut[-1], lut[0]]


# -- configuration refused with a message naming the parameter --------------------------


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: FixedFormat(1, 0), "format"),
        (lambda: FixedFormat(8, 8), "format"),
        (lambda: FixedFormat(8, -1), "format"),
        (lambda: FixedFormat(60, 10), "format"),
        (lambda: FixedFormat.parse("16", "weight"), "weight"),
        (lambda: FixedFormat.parse("16.x", "sens"), "sens"),
        (lambda: FixedFormat.parse("8.9", "act"), "act"),
        (lambda: FixedConfig(activation="relu"), "activation"),
        (lambda: FixedConfig(lut_bits=1), "lut_bits"),
        (lambda: FixedConfig(lut_bits=17), "lut_bits"),
        (lambda: FixedConfig(lut_range=-1), "lut_range"),
        (lambda: FixedConfig(lut_range=16), "lut_range"),
        (lambda: FixedConfig(act=FixedFormat(16, 15)), "act format"),
        (lambda: FixedConfig(act=FixedFormat(8, 2), weight=FixedFormat(8, 1)), "lut_bits"),
        (lambda: FixedConfig(act=FixedFormat(16, 14), weight=FixedFormat(16, 4),
                             sens=FixedFormat(16, 4)), "sens format"),
        (lambda: FixedConfig(act=FixedFormat(32, 28), weight=FixedFormat(32, 26),
                             sens=FixedFormat(32, 26)), "act format"),
        (lambda: FixedConfig(weight=FixedFormat(32, 20), sens=FixedFormat(32, 20)),
         "sens format"),
        (lambda: FixedConfig(act=FixedFormat(30, 20), sens=FixedFormat(34, 20),
                             weight=FixedFormat(16, 12)), "sens format"),
        (lambda: FixedConfig(acc_bits=30).sized_for(17), "acc_bits"),
        (lambda: FixedConfig(acc_bits=64, act=FixedFormat(28, 20),
                             weight=FixedFormat(30, 12)).sized_for(100), "acc_bits"),
        (lambda: FixedConfig(act=FixedFormat(28, 20), weight=FixedFormat(28, 20),
                             sens=FixedFormat(32, 20), acc_bits=62).sized_for(20, 16),
         "sens format"),
        (lambda: lr_shift_from_lr(0.0), "lr"),
        (lambda: lr_shift_from_lr(-0.1), "lr"),
        (lambda: lr_shift_from_lr(8.0), "lr"),
        (lambda: lr_shift_from_lr(2.0**-40), "lr"),
    ],
)
def test_bad_config_refused_naming_parameter(make, name: str) -> None:
    with pytest.raises(ConfigError) as info:
        make()
    assert str(info.value).startswith(name) or f"{name}:" in str(info.value), str(info.value)


def _w0(n: int, m: int) -> np.ndarray:
    return np.zeros((n, m + 1 + n), dtype=np.int64)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"w0_q": np.zeros(5, dtype=np.int64)}, "w0_q"),
        ({"w0_q": np.zeros((3, 5))}, "w0_q"),  # floats, not raw integers
        ({"w0_q": _w0(3, 2)[:, :-1]}, "w0_q"),  # L != M + 1 + N
        ({"w0_q": _w0(3, 2) + 2**20}, "w0_q"),  # outside the weight format
        ({"m": -1, "w0_q": _w0(3, -1)}, "m"),
        ({"k": 0}, "k"),
        ({"k": 4}, "k"),  # K > N
        ({"lr_shift": 32}, "lr_shift"),
        ({"lr_shift": -1}, "lr_shift"),
        ({"lr_shift": 2.5}, "lr_shift"),
        ({"cfg": "16.12"}, "cfg"),
        ({"cfg": FixedConfig(acc_bits=20)}, "acc_bits"),
    ],
)
def test_bad_model_arguments_refused(kwargs: dict, name: str) -> None:
    args = {"w0_q": _w0(3, 2), "m": 2, "k": 1, "cfg": FixedConfig(), "lr_shift": 3}
    args.update(kwargs)
    with pytest.raises(ConfigError) as info:
        FixedTRTRL(**args)
    assert str(info.value).startswith(name), str(info.value)


def _case(**overrides) -> SimpleNamespace:
    rng = np.random.default_rng(0)
    fields = dict(
        x=rng.uniform(-0.5, 0.5, (12, 2)), d=rng.uniform(-0.5, 0.5, (12, 1)),
        w0=rng.uniform(-0.3, 0.3, (3, 6)), lr=0.1, algorithm="trtrl", activation="tanh",
        n=3, m=2, k=1,
    )
    fields.update(overrides)
    return SimpleNamespace(**fields)


def test_fixed_trace_refusals() -> None:
    for algorithm in ("rtrl", "snap1"):
        with pytest.raises(ConfigError, match="^algorithm"):
            fixed_trace(_case(algorithm=algorithm))
    with pytest.raises(ConfigError, match="^activation"):
        fixed_trace(_case(activation="sigmoid"), FixedConfig(activation="tanh"))
    with pytest.raises(ConfigError, match="^lr"):
        fixed_trace(_case(lr=1e-30))
    with pytest.raises(ConfigError, match="^weights_every"):
        fixed_trace(_case(), weights_every=-1)


def test_fixed_trace_keys_and_metadata() -> None:
    case = _case()
    cfg = FixedConfig()
    tr = fixed_trace(case, cfg, weights_every=5)
    T, n, L, k = 12, 3, 6, 1
    assert tr["y"].shape == (T, n) and tr["e"].shape == (T, k) and tr["sat"].shape == (T,)
    assert tr["w_step"].tolist() == [4, 9, 11]
    assert tr["w"].shape == (3, n, L) and tr["p_out"].shape == (3, k, n, L)
    assert tr["p_ing"].shape == (3, n, L) and tr["p_egr"].shape == (3, n, L)
    for key in ("y", "e", "w", "w_step", "p_out", "p_ing", "p_egr", "sat", "x_q", "d_q",
                "w0_q", "lut"):
        assert tr[key].dtype == np.int64, key
    x_q, d_q, w0_q = quantize_case(case, cfg)
    assert np.array_equal(tr["x_q"], x_q) and np.array_equal(tr["w0_q"], w0_q)
    assert str(tr["fmt_A"]) == "16.14" and str(tr["fmt_W"]) == str(cfg.weight)
    assert str(tr["fmt_P"]) == str(cfg.sens)
    assert int(tr["lr_shift"]) == lr_shift_from_lr(0.1) == 3
    assert int(tr["acc_bits"]) == cfg.sized_for(L, k).acc_bits == 40
    assert int(tr["lut_bits"]) == cfg.lut_bits
    assert int(tr["lut_range"]) == cfg.lut_range
    assert str(tr["algorithm"]) == "trtrl" and str(tr["activation"]) == "tanh"
    assert bool(tr["fixed"]) is True
    # lr = 0: learning off, the weights stay.
    off = fixed_trace(_case(lr=0.0), cfg)
    assert bool(off["learn"]) is False
    assert np.array_equal(off["w"][-1], off["w0_q"])


def test_unset_accumulator_takes_the_width_the_network_needs() -> None:
    # 18-bit weights times 16-bit activations: 33 bits a product, + ceil(log2 L) + 1.
    auto = FixedConfig()
    assert auto.acc_bits is None
    assert auto.sized_for(17).acc_bits == 40  # the default where it suffices
    assert auto.min_acc_bits(102) == 41
    assert auto.sized_for(102, 10).acc_bits == 41  # N=100, M=1: widened, not refused
    assert FixedConfig(acc_bits=41).sized_for(102, 10).acc_bits == 41
    assert FixedConfig(acc_bits=36).sized_for(3).acc_bits == 36  # explicit and enough
    with pytest.raises(ConfigError, match="acc_bits: 40 too narrow for L=102"):
        FixedConfig(acc_bits=40).sized_for(102, 10)  # asked for explicitly: refused
    with pytest.raises(ConfigError, match="acc_bits: expected an integer"):
        FixedConfig(acc_bits=1.5)


def test_lr_shift_from_lr() -> None:
    assert lr_shift_from_lr(0.05) == 4
    assert lr_shift_from_lr(1.0) == 0
    assert lr_shift_from_lr(2.0**-31) == 31
    assert lr_shift_from_lr(0.0, learn=False) == 0
