"""What installing the project puts into a user's environment, and how its code imports it.

The folders keep the layout's names (``pymodel/``, ``rtl/``, ``testbenches/``,
``experiments/``, ``scripts/``), but they install as one package, ``trtrl`` (setup.cfg's
``package_dir``: ``scripts/`` is ``trtrl`` itself, the others its subpackages), so the
project can never shadow a user's own ``scripts`` or ``rtl``. The checks:

- every folder with an ``__init__.py`` is a listed package, under its mapped name;
- from a folder outside the repository, the ``trtrl`` names import and the bare folder
  names do not;
- the code imports only the ``trtrl`` names (a bare ``import rtl`` works from the
  repository root but nowhere else, and would load a second copy of a module);
- data flows one way: nothing in the models imports the RTL, the testbenches, the
  experiments or the command line.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from setuptools.config.setupcfg import read_configuration

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("pymodel", "rtl", "testbenches", "experiments", "scripts")


def _options() -> dict:
    return read_configuration(ROOT / "setup.cfg")["options"]


def _tracked_python() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    return [ROOT / p for p in out.stdout.split()]


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import statement in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_every_package_folder_is_installed_under_its_trtrl_name() -> None:
    opts = _options()
    to_folder = {name: Path(folder) for name, folder in opts["package_dir"].items()}
    assert set(to_folder) == {"trtrl", *(f"trtrl.{f}" for f in FOLDERS if f != "scripts")}
    assert to_folder["trtrl"] == Path("scripts")

    def folder_of(package: str) -> Path:
        parts = package.split(".")
        for i in range(len(parts), 0, -1):  # the longest mapped prefix
            head = ".".join(parts[:i])
            if head in to_folder:
                return to_folder[head].joinpath(*parts[i:])
        raise AssertionError(f"{package} is under no package_dir entry")

    listed = {folder_of(p) for p in opts["packages"]}
    on_disk = {p.parent.relative_to(ROOT) for f in FOLDERS for p in (ROOT / f).rglob("__init__.py")}
    assert listed == on_disk


def test_only_the_trtrl_names_import_outside_the_repository(tmp_path: Path) -> None:
    probe = (
        "import importlib.util, trtrl.cli, trtrl.pymodel.fixed, trtrl.rtl.generate, "
        "trtrl.testbenches.runner, trtrl.experiments.paper\n"
        f"print(*(f for f in {FOLDERS!r} if importlib.util.find_spec(f) is not None))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                          text=True, env={k: v for k, v in os.environ.items()
                                          if k != "PYTHONPATH"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [], "bare names importable outside the repository"


def test_code_imports_only_the_trtrl_names() -> None:
    bare = [f"{p.relative_to(ROOT)}:{line}: {mod}" for p in _tracked_python()
            for line, mod in _imported_modules(p) if mod.split(".")[0] in FOLDERS]
    assert bare == []


def test_the_models_import_nothing_downstream() -> None:
    downstream = ("trtrl.rtl", "trtrl.testbenches", "trtrl.experiments", "trtrl.cli",
                  "trtrl.cmd_")
    bad = [f"{p.relative_to(ROOT)}:{line}: {mod}"
           for p in sorted((ROOT / "pymodel").rglob("*.py")) if "tests" not in p.parts
           for line, mod in _imported_modules(p) if mod.startswith(downstream)]
    assert bad == []


def test_no_module_is_loaded_under_a_bare_name() -> None:
    """pytest imports test files by their folder names (``pymodel.tests.test_x``); anything
    else loaded that way is code imported twice, with two copies of its classes."""

    def is_test_side(name: str) -> bool:
        parts = name.split(".")
        return (len(parts) == 1 or "tests" in parts or parts[-1] == "conftest"
                or any(p.startswith("test_") for p in parts))

    bare = sorted(m for m in sys.modules if m.split(".")[0] in FOLDERS and not is_test_side(m))
    assert bare == []
