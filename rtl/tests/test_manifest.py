"""The manifest schema: what `trtrl rtl gen` writes, every reader loads; bad files refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.fixed.formats import FixedConfig, FixedFormat
from trtrl.rtl.config import ArrayConfig
from trtrl.rtl.manifest import SCHEMA, SCHEMA_VERSION, Manifest

CFG = ArrayConfig(3, 2, 2, FixedConfig(act=FixedFormat(10, 8), activation="sigmoid"))


def test_round_trip(tmp_path: Path) -> None:
    man = Manifest.of(CFG, generator="trtrl test")
    path = man.write(tmp_path / "m.json")
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA and data["schema_version"] == SCHEMA_VERSION
    back = Manifest.read(path)
    assert back == man
    assert back.fixed == CFG.fixed and back.L == CFG.L
    assert back.details["storage_words"] == CFG.storage_words()
    assert back.details["multipliers"] == CFG.multipliers == 4 * CFG.lanes + 1
    # details survive a reader that adds to them (as `trtrl rtl synth` does)
    back.with_details(synthesis={"cells": 1}).write(path)
    assert Manifest.read(path).details["synthesis"] == {"cells": 1}
    assert Manifest.read(path).details["columns"] == CFG.L


def _edited(tmp_path: Path, edit) -> Path:
    data = Manifest.of(CFG).to_json()
    edit(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("edit", "needle"), [
    (lambda d: d.pop("schema"), "no 'schema' key: written by a trtrl from before"),
    (lambda d: d.update(schema="other"), "'schema' is 'other'"),
    (lambda d: d.update(schema_version=2), "'schema_version' 2: this trtrl reads version 1"),
    (lambda d: d.pop("neurons"), "missing key 'neurons'"),
    (lambda d: d.update(outputs="2"), "'outputs' must be an integer"),
    (lambda d: d.update(read_latency=True), "'read_latency' must be an integer"),
    (lambda d: d["fixed"].pop("sens"), "'fixed' has no key 'sens'"),
    (lambda d: d["fixed"].update(act="ten"), "'fixed':"),
    (lambda d: d["ports"].update(clk="1"), "'ports' width of 'clk'"),
    (lambda d: d.update(top=3), "'top' must be a str"),
], ids=["unversioned", "schema", "version", "missing", "int", "bool", "fixed-key",
        "fixed-format", "port", "top"])
def test_refused_in_one_line_naming_the_key(tmp_path: Path, edit, needle: str) -> None:
    path = _edited(tmp_path, edit)
    with pytest.raises(TrtrlError) as info:
        Manifest.read(path)
    msg = str(info.value)
    assert needle in msg and "\n" not in msg and str(path) in msg, msg


def test_not_json_or_missing(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{")
    with pytest.raises(TrtrlError, match="not valid JSON"):
        Manifest.read(tmp_path / "x.json")
    with pytest.raises(TrtrlError, match="no such file"):
        Manifest.read(tmp_path / "none.json")


@pytest.mark.parametrize(("n", "m", "k"), [(1, 0, 1), (2, 1, 1), (5, 2, 3), (7, 1, 7)])
def test_useful_multiplies_by_enumeration(n: int, m: int, k: int) -> None:
    """The count of useful products, enumerated weight by weight and quantity by quantity
    with the rules of pymodel/FIXED_POINT.md (which sensitivities are computed, which are
    copies or zeros), equals the closed form the manifest quotes."""
    L = m + 1 + n
    count = n  # f'(y_i), one per neuron
    for i in range(n):
        for j in range(L):
            count += 1  # forward: W[i, j] z_j
            count += k  # gradient: sum over k of e_k p^k[i, j]
            quantities = k  # every output sensitivity p^k[i, j] is computed
            quantities += i >= k  # ingress p^i[i, j]: a copy of p_out when i is an output
            col = j - m - 1  # egress p^m[i, j], m = col: zero for input and bias columns,
            quantities += col >= 0 and col != i and col >= k  # a copy for an output m
            count += 3 * quantities  # two sensitivity terms and the f' product
    cfg = ArrayConfig(n, m, k)
    assert cfg.useful_multiplies() == count
    assert 0 < cfg.multiplier_utilisation <= 1
