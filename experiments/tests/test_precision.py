"""Smoke test of ``trtrl experiment precision``: a tiny sweep writes its three files."""

from __future__ import annotations

import argparse
import csv

import pytest

from trtrl.experiments import precision
from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.fixed import default_config


def test_scaled_config_moves_every_format_together() -> None:
    base = default_config()
    assert precision.scaled_config(16, columns=17).act == base.act
    cfg = precision.scaled_config(8, columns=27)
    assert (cfg.act.total, cfg.act.frac) == (8, 6)
    assert cfg.weight.total - cfg.weight.frac == base.weight.total - base.weight.frac
    assert cfg.sens.frac == base.sens.frac - 8
    cfg.sized_for(27)
    wide = precision.scaled_config(24, columns=27)
    wide.sized_for(27, 1)


def test_precision_quick_writes_report(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "BITS_QUICK", [8, 16])
    monkeypatch.setattr(precision, "TEST_STEPS", 20)
    parser = argparse.ArgumentParser()
    precision.add_arguments(parser)
    out = tmp_path / "prec"
    args = parser.parse_args(["-o", str(out), "--quick", "--steps", "30", "--seed", "3"])
    assert precision.main(args) == 0
    assert {p.name for p in out.iterdir()} == {"precision.csv", "precision.md", "precision.png"}
    rows = list(csv.DictReader((out / "precision.csv").open()))
    assert [(r["task"], r["bits"]) for r in rows] == [
        ("freq-doubler", "8"), ("freq-doubler", "16"), ("mackey-glass", "8"), ("mackey-glass", "16")
    ]
    assert all(r["seed"] == "3" for r in rows)
    assert "seed 3" in (out / "precision.md").read_text()


def test_precision_refuses_bad_steps(tmp_path) -> None:
    parser = argparse.ArgumentParser()
    precision.add_arguments(parser)
    args = parser.parse_args(["-o", str(tmp_path / "x"), "--steps", "0"])
    with pytest.raises(TrtrlError, match="^steps"):
        precision.main(args)
    assert not (tmp_path / "x").exists()
