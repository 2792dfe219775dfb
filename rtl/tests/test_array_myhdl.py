"""The MyHDL neuron array against FixedTRTRL, bit for bit, driven through its ports."""

from __future__ import annotations

import numpy as np
import pytest

from trtrl.pymodel.fixed.formats import FixedConfig, FixedFormat
from trtrl.pymodel.fixed.model import FixedTRTRL
from trtrl.rtl.config import ArrayConfig
from trtrl.rtl.sim import simulate


def _stimulus(cfg: ArrayConfig, steps: int, seed: int, wscale: float = 1.0, xscale: float = 1.0):
    f = cfg.fixed
    rng = np.random.default_rng(seed)
    wmax = min(f.weight.max, int(f.weight.one * wscale))
    w0 = rng.integers(-wmax, wmax + 1, size=(cfg.n, cfg.L))
    amax = min(f.act.max, int(f.act.one * xscale))
    x = rng.integers(-amax, amax + 1, size=(steps, cfg.m))
    d = rng.integers(-amax, amax + 1, size=(steps, cfg.k))
    return w0, x, d


def check(cfg: ArrayConfig, w0, x, d, learn=True, lr_shift=2, readback_every=1):
    """Simulate and compare outputs, errors, sat_count and every read-back word."""
    res = simulate(cfg, w0, x, d, learn=learn, lr_shift=lr_shift, readback_every=readback_every)
    steps = len(x)
    learn_seq = [learn] * steps if np.ndim(learn) == 0 else list(learn)
    lr_seq = [lr_shift] * steps if np.ndim(lr_shift) == 0 else list(lr_shift)
    model = FixedTRTRL(
        np.asarray(w0), cfg.m, cfg.k, cfg.fixed, int(lr_seq[0]), learn=bool(learn_seq[0])
    )
    rb = dict(res.readback)
    for t in range(steps):
        model.learn = bool(learn_seq[t])
        if int(lr_seq[t]) != model.lr_shift:
            model._grad_shift += int(lr_seq[t]) - model.lr_shift
            model.lr_shift = int(lr_seq[t])
        y, e = model.step(x[t], d[t])
        assert res.y[t] == list(y), f"step {t}: y"
        assert res.e[t] == list(e), f"step {t}: e"
        assert res.sat[t] == model.sat_count, f"step {t}: sat_count"
        assert res.steps[t] == t + 1
        if t in rb:
            for key in ("w", "p_out", "p_ing", "p_egr"):
                np.testing.assert_array_equal(
                    rb[t][key], getattr(model, key), err_msg=f"step {t}: {key}"
                )
    assert res.cycles == [cfg.cycles_per_step()] * steps
    return res, model


@pytest.mark.parametrize(
    "n,m,k,seed",
    [(1, 0, 1, 1), (1, 2, 1, 2), (3, 1, 1, 3), (3, 0, 3, 4), (4, 2, 2, 5), (2, 1, 2, 6)],
)
def test_random_configs(n, m, k, seed):
    cfg = ArrayConfig(n, m, k)
    w0, x, d = _stimulus(cfg, 3, seed)
    check(cfg, w0, x, d, lr_shift=seed % 4)


@pytest.mark.parametrize(
    "n,m,k,lanes,seed",
    # fewer lanes than neurons: whole groups, a padded last group (R P > N), one lane,
    # K > P (the output rows span groups) and K = N
    [(4, 1, 1, 2, 31), (5, 1, 2, 2, 32), (4, 0, 1, 1, 33), (7, 2, 3, 3, 34), (5, 1, 4, 2, 35),
     (3, 1, 3, 2, 36)],
)
def test_fewer_lanes_than_neurons(n, m, k, lanes, seed):
    cfg = ArrayConfig(n, m, k, lanes=lanes)
    assert cfg.groups == -(-n // lanes)
    w0, x, d = _stimulus(cfg, 3, seed)
    check(cfg, w0, x, d, lr_shift=seed % 5)


def test_narrow_formats_saturate():
    fx = FixedConfig(
        act=FixedFormat(8, 6),
        weight=FixedFormat(7, 4),
        sens=FixedFormat(5, 3),
        acc_bits=24,
        lut_bits=6,
        lut_range=3,
    )
    cfg = ArrayConfig(3, 1, 2, fx)
    w0, x, d = _stimulus(cfg, 5, 11, wscale=7.0, xscale=1.9)
    res, model = check(cfg, w0, x, d, lr_shift=0)
    assert model.sat_count > 0 and res.sat[-1] == model.sat_count


def test_sigmoid_learn_toggle_and_lr_shift():
    fx = FixedConfig(activation="sigmoid")
    cfg = ArrayConfig(3, 1, 2, fx)
    w0, x, d = _stimulus(cfg, 4, 12)
    check(cfg, w0, x, d, learn=[True, False, True, True], lr_shift=[0, 3, 7, 31])


def test_learning_off_keeps_weights():
    cfg = ArrayConfig(2, 1, 1)
    w0, x, d = _stimulus(cfg, 3, 13)
    res, _ = check(cfg, w0, x, d, learn=False, readback_every=0)
    np.testing.assert_array_equal(res.readback[-1][1]["w"], w0)


def test_clear_keeps_weights_and_resets_state():
    cfg = ArrayConfig(2, 1, 1)
    w0, x, d = _stimulus(cfg, 3, 14)
    res = simulate(cfg, w0, x[:2], d[:2], lr_shift=1, readback_every=0, clear_after=0)
    model = FixedTRTRL(w0, cfg.m, cfg.k, cfg.fixed, 1)
    model.step(x[0], d[0])
    model.reset_state()
    y, e = model.step(x[1], d[1])
    assert res.y[1] == list(y) and res.e[1] == list(e)
    assert res.steps[1] == 1 and res.sat[1] == model.sat_count
    assert res.clear_cycles == cfg.clear_cycles
    np.testing.assert_array_equal(res.readback[-1][1]["w"], model.w)


def test_frequency_doubler_short_run():
    """A short learning run on a frequency-doubler stream (K=1, M=1)."""
    cfg = ArrayConfig(3, 1, 1)
    f = cfg.fixed
    t = np.arange(12)
    x = np.round(0.5 * np.sin(2 * np.pi * t / 12) * f.act.one).astype(np.int64)[:, None]
    d = np.round(0.5 * np.sin(4 * np.pi * t / 12) * f.act.one).astype(np.int64)[:, None]
    rng = np.random.default_rng(3)
    w0 = rng.integers(-f.weight.one // 2, f.weight.one // 2, size=(cfg.n, cfg.L))
    check(cfg, w0, x, d, lr_shift=3, readback_every=4)


@pytest.mark.slow
def test_larger_config_long_run():
    cfg = ArrayConfig(6, 2, 3)
    w0, x, d = _stimulus(cfg, 20, 21)
    check(cfg, w0, x, d, lr_shift=4, readback_every=5)


@pytest.mark.parametrize("top", ["array", "axi"])
def test_generators_see_every_signal(top):
    """MyHDL takes a generator's signals (an always_comb's sensitivity list) from the names
    bound when its decorator runs: a signal declared below it is silently left out, and
    an always_comb reading it goes stale (the E0 operand mux once read ``pidb`` so)."""
    from myhdl._block import _Block
    from myhdl._instance import _Instantiator

    from trtrl.rtl.generate import AXI_TOP, TOP, build

    late = []

    def walk(b):
        for s in b.subs:
            if isinstance(s, _Block):
                walk(s)
            elif isinstance(s, _Instantiator):
                code = s.func.__code__
                missing = [n for n in code.co_freevars if n not in s.symdict]
                if missing:
                    late.append(f"{code.co_filename}:{code.co_firstlineno} "
                                f"{code.co_name}: {missing}")

    inst, _ = build(ArrayConfig(4, 2, 2, lanes=2), AXI_TOP if top == "axi" else TOP)
    walk(inst)
    assert not late, "signals bound after the generator:\n" + "\n".join(sorted(set(late)))
