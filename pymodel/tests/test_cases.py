"""Case/trace files: every malformed-case rule, round trips, atomic writes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trtrl.pymodel.cases import (
    Case,
    load_case,
    load_trace,
    save_case,
    save_npz_atomic,
    validate_case,
)
from trtrl.pymodel.errors import CaseError, TrtrlError


def good_arrays(t: int = 5, m: int = 2, n: int = 3, k: int = 2) -> dict[str, Any]:
    """A valid case as a dict of arrays (the file layout)."""
    rng = np.random.default_rng(1)
    return {
        "x": rng.normal(size=(t, m)),
        "d": rng.uniform(-0.5, 0.5, size=(t, k)),
        "w0": rng.uniform(-0.1, 0.1, size=(n, m + 1 + n)),
        "lr": np.float64(0.05),
        "algorithm": np.array("trtrl"),
        "activation": np.array("tanh"),
    }


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(arrays: dict[str, Any]) -> None:
        arrays[key] = value

    return edit


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def edit(arrays: dict[str, Any]) -> None:
        del arrays[key]

    return edit


def _nan_at(key: str, index: tuple[int, ...], value: float = np.nan) -> Callable[[dict], None]:
    def edit(arrays: dict[str, Any]) -> None:
        arr = np.array(arrays[key], dtype=np.float64)
        arr[index] = value
        arrays[key] = arr

    return edit


# (id, edit of a good case, key the one-line message must name). Good case: T=5, M=2, N=3, K=2.
MALFORMED: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    *[(f"missing-{key}", _drop(key), key)
      for key in ("x", "d", "w0", "lr", "algorithm", "activation")],
    ("x-1d", _set("x", np.zeros(5)), "x"),
    ("x-3d", _set("x", np.zeros((5, 2, 1))), "x"),
    ("x-strings", _set("x", np.array([["a", "b"]] * 5)), "x"),
    ("x-complex", _set("x", np.zeros((5, 2), dtype=complex)), "x"),
    ("x-no-steps", lambda a: a.update(x=np.zeros((0, 2)), d=np.zeros((0, 2))), "x"),
    ("d-1d", _set("d", np.zeros(5)), "d"),
    ("d-T-mismatch", _set("d", np.zeros((4, 2))), "d"),
    ("d-K-zero", _set("d", np.zeros((5, 0))), "d"),
    ("d-K-gt-N", _set("d", np.zeros((5, 4))), "d"),
    ("w0-1d", _set("w0", np.zeros(6)), "w0"),
    ("w0-N-zero", _set("w0", np.zeros((0, 3))), "w0"),
    ("w0-L-short", _set("w0", np.zeros((3, 5))), "w0"),
    ("w0-L-long", _set("w0", np.zeros((3, 7))), "w0"),
    ("x-M-vs-L", _set("x", np.zeros((5, 3))), "w0"),  # M=3 needs L=7, w0 has 6
    ("x-nan", _nan_at("x", (2, 1)), "x"),
    ("d-inf", _nan_at("d", (4, 0), np.inf), "d"),
    ("w0-neg-inf", _nan_at("w0", (1, 3), -np.inf), "w0"),
    ("lr-nan", _set("lr", np.float64(np.nan)), "lr"),
    ("lr-inf", _set("lr", np.float64(np.inf)), "lr"),
    ("lr-vector", _set("lr", np.array([0.1, 0.2])), "lr"),
    ("lr-string", _set("lr", np.array("0.1")), "lr"),
    ("lr-negative", _set("lr", np.float64(-0.1)), "lr"),
    ("algorithm-unknown", _set("algorithm", np.array("bptt")), "algorithm"),
    ("algorithm-not-str", _set("algorithm", np.float64(1.0)), "algorithm"),
    ("algorithm-array", _set("algorithm", np.array(["rtrl", "trtrl"])), "algorithm"),
    ("activation-unknown", _set("activation", np.array("relu")), "activation"),
    ("activation-not-str", _set("activation", np.int64(0)), "activation"),
]


def malformed(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    arrays = good_arrays()
    edit(arrays)
    return arrays


@pytest.mark.parametrize(("edit", "key"), [(e, k) for _, e, k in MALFORMED],
                         ids=[name for name, _, _ in MALFORMED])
def test_validate_refuses_malformed(edit: Callable[[dict[str, Any]], None], key: str) -> None:
    with pytest.raises(CaseError) as info:
        validate_case(malformed(edit))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{key}:"), message


@pytest.mark.parametrize(("edit", "key"), [(e, k) for _, e, k in MALFORMED],
                         ids=[name for name, _, _ in MALFORMED])
def test_load_refuses_malformed_file(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], key: str
) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **malformed(edit))
    with pytest.raises(CaseError, match=rf"^{key}:"):
        load_case(path)


def test_valid_case_properties() -> None:
    case = validate_case(good_arrays(t=7, m=2, n=4, k=3))
    assert (case.steps, case.m, case.n, case.k) == (7, 2, 4, 3)
    assert case.shape.L == 2 + 1 + 4
    assert case.algorithm == "trtrl" and case.activation == "tanh" and case.lr == 0.05
    assert case.x.dtype == case.d.dtype == case.w0.dtype == np.float64
    assert case.extra == {}


def test_integer_arrays_are_accepted_as_float64() -> None:
    arrays = good_arrays()
    arrays["x"] = np.ones((5, 2), dtype=np.int32)
    arrays["lr"] = np.int64(0)
    case = validate_case(arrays)
    assert case.x.dtype == np.float64 and case.lr == 0.0


def test_bytes_strings_from_outside_tools_are_accepted() -> None:
    arrays = good_arrays()
    arrays["algorithm"] = np.array(b"rtrl")
    arrays["activation"] = np.array(b"sigmoid")
    case = validate_case(arrays)
    assert (case.algorithm, case.activation) == ("rtrl", "sigmoid")


def test_round_trip(tmp_path: Path) -> None:
    arrays = good_arrays()
    arrays["series"] = np.linspace(0, 1, 9)
    arrays["scale_gain"] = np.float64(0.5)
    case = validate_case(arrays)
    path = tmp_path / "sub" / "dir" / "case.npz"
    save_case(path, case)
    with np.load(path, allow_pickle=False) as raw:
        assert raw["algorithm"].shape == () and raw["algorithm"].dtype.kind == "U"
        assert raw["activation"].shape == () and raw["lr"].shape == ()
        assert raw["lr"].dtype == np.float64
    back = load_case(path)
    for key in ("x", "d", "w0"):
        np.testing.assert_array_equal(getattr(back, key), getattr(case, key))
    assert (back.lr, back.algorithm, back.activation) == (case.lr, case.algorithm,
                                                          case.activation)
    assert set(back.extra) == {"series", "scale_gain"}
    np.testing.assert_array_equal(back.extra["series"], arrays["series"])
    assert not [p for p in path.parent.iterdir() if p.name != "case.npz"]  # no temp left


def test_save_case_refuses_malformed_and_writes_nothing(tmp_path: Path) -> None:
    case = validate_case(good_arrays())
    case.w0 = np.zeros((3, 2))
    path = tmp_path / "case.npz"
    with pytest.raises(CaseError, match="^w0:"):
        save_case(path, case)
    assert not path.exists()


def test_load_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.npz"
    with pytest.raises(CaseError, match="nope.npz"):
        load_case(path)


@pytest.mark.parametrize("content", [b"", b"hello, not a zip\n", b"PK\x03\x04broken"])
def test_load_garbage_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.npz"
    path.write_bytes(content)
    with pytest.raises(CaseError, match="garbage.npz") as info:
        load_case(path)
    assert "\n" not in str(info.value)


def test_load_npy_is_not_a_case(tmp_path: Path) -> None:
    path = tmp_path / "array.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(CaseError, match="not an .npz"):
        load_case(path)


def test_load_pickled_object_array_is_refused(tmp_path: Path) -> None:
    arrays = good_arrays()
    arrays["x"] = np.array([[object()]] * 5, dtype=object)
    path = tmp_path / "pickled.npz"
    np.savez(path, **arrays)
    with pytest.raises(CaseError, match="pickled.npz"):
        load_case(path)


def test_save_npz_atomic_failure_leaves_nothing(tmp_path: Path) -> None:
    class Unsaveable:
        def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
            raise RuntimeError("boom")

    path = tmp_path / "out.npz"
    with pytest.raises(RuntimeError):
        save_npz_atomic(path, a=np.zeros(2), b=Unsaveable())
    assert list(tmp_path.iterdir()) == []


def test_save_npz_atomic_replaces_existing(tmp_path: Path) -> None:
    path = tmp_path / "out.npz"
    save_npz_atomic(path, a=np.zeros(2))
    save_npz_atomic(path, a=np.ones(3))
    with np.load(path) as data:
        np.testing.assert_array_equal(data["a"], np.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]


def test_save_npz_atomic_keeps_name_without_npz_suffix(tmp_path: Path) -> None:
    path = tmp_path / "trace.bin"
    save_npz_atomic(path, a=np.zeros(2))
    assert [p.name for p in tmp_path.iterdir()] == ["trace.bin"]


def test_save_npz_atomic_unwritable_is_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(TrtrlError, match="cannot write"):
        save_npz_atomic(blocker / "out.npz", a=np.zeros(2))


def test_load_trace(tmp_path: Path) -> None:
    path = tmp_path / "trace.npz"
    y, e, w = np.zeros((4, 3)), np.zeros((4, 1)), np.zeros((4, 3, 5))
    save_npz_atomic(path, y=y, e=e, w=w)
    trace = load_trace(path)
    np.testing.assert_array_equal(trace["w_step"], np.arange(4))
    save_npz_atomic(path, y=y, e=e)
    with pytest.raises(CaseError, match="^w:"):
        load_trace(path)


def test_case_to_arrays_is_the_file_layout() -> None:
    case = Case(x=np.zeros((2, 1)), d=np.zeros((2, 1)), w0=np.zeros((1, 3)), lr=0.1,
                algorithm="rtrl", activation="sigmoid", extra={"tau": np.float64(17)})
    arrays = case.to_arrays()
    assert set(arrays) == {"x", "d", "w0", "lr", "algorithm", "activation", "tau"}
    assert validate_case(arrays).extra["tau"] == 17
