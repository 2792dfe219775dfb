"""The README's command blocks, run as a user types them, in fresh processes.

Every ``$ `` line of the README's fenced blocks runs with ``bash`` from the root of a
fresh copy of the repository (its files as a clone has them, the environment's
``.venv`` linked in), in order, and must succeed and write only under the folder it
names (``-o``, or the command's default). The regression commands run again from
another folder with a relative ``-o``, which must receive every result (on Icarus only:
the path handling does not depend on the simulator, and the first pass ran both).
``make`` lines are the set-up and the test run itself (CI runs ``make test``), so they
are not repeated here.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Where a command writes when it is given no -o (each command's documented default).
DEFAULT_OUT = {("regress",): "out/regress", ("demo",): "out/demo"}


def readme_commands(text: str) -> list[str]:
    """The ``$ `` commands of the fenced blocks, continuation lines joined."""
    commands: list[str] = []
    fenced, current = False, None
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            continue
        if current is not None:
            current += " " + line.strip()
        elif line.startswith("$ "):
            current = line[2:].strip()
        if current is not None:
            if current.endswith("\\"):
                current = current[:-1].rstrip()
            else:
                commands.append(current)
                current = None
    return commands


def _words(command: str) -> list[str]:
    return shlex.split(command, comments=True)


def _subcommand(words: list[str]) -> tuple[str, ...]:
    rest = [w for w in words[1:] if not w.startswith("-")]
    return tuple(rest[:1])


def named_output(command: str) -> str | None:
    """The file or folder a ``trtrl`` command names with ``-o`` (or its default)."""
    words = _words(command)
    for flag in ("-o", "--out", "--output"):
        if flag in words:
            return words[words.index(flag) + 1]
    return DEFAULT_OUT.get(_subcommand(words))


def _files(root: Path) -> set[str]:
    """Files under ``root``, without the environment and Python's bytecode caches (which
    Python writes beside any source it imports; they are not a command's output)."""
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and not {".venv", "__pycache__"} & set(p.relative_to(root).parts)}


def _fresh_copy(dest: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=REPO, capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: no file list to copy")
    for name in listed.stdout.decode().split("\0"):
        if name and (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    (dest / ".venv").symlink_to(Path(sys.executable).resolve().parent.parent
                                if not (Path(sys.prefix) / "bin").is_dir() else sys.prefix)
    return dest


def _run(command: str, cwd: Path) -> str:
    proc = subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True,
                          timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"`{command}` (in {cwd.name}) failed:\n{out[-3000:]}"
    return out


def _check_writes(command: str, root: Path, before: set[str]) -> None:
    new = _files(root) - before
    target = named_output(command)
    assert target is not None or not new, f"`{command}` wrote {sorted(new)[:5]}"
    stray = [f for f in new if not (f == target or f.startswith(target.rstrip("/") + "/"))]
    assert not stray, f"`{command}` wrote outside {target}: {sorted(stray)[:5]}"


def test_commands_parsed() -> None:
    """The parser sees the README's blocks (the test below is not vacuous)."""
    cmds = readme_commands((REPO / "README.md").read_text())
    assert any(" rtl gen " in c for c in cmds) and any(" regress " in c for c in cmds)
    assert all("\\" not in c for c in cmds)
    assert named_output("trtrl regress --rtl a.v --waves") == "out/regress"
    assert named_output("trtrl waves d.vcd --from 1 -o w.png  # note") == "w.png"


def _names_files(words: list[str]) -> bool:
    """The command names a file or folder (``out/rtl4``, ``waves.png`` aside): it may
    need what an earlier one wrote."""
    return any("/" in w for w in words[1:] if not w.startswith("-"))


# Two parts, each in its own fresh copy, so pytest's workers run them side by side: the
# chain of commands that name files (gen -> regress -> waves ...), and the rest.
@pytest.mark.parametrize("part", ["files", "standalone"])
def test_readme_commands_as_written(tmp_path: Path, part: str) -> None:
    clone = _fresh_copy(tmp_path / "clone")
    commands = [c for c in readme_commands((REPO / "README.md").read_text())
                if _names_files(_words(c)) == (part == "files")]
    assert commands, f"the README has no command of part {part!r}"
    regress = []
    for command in commands:
        words = _words(command)
        if words[0] == "make":
            continue
        if words[0] == "gtkwave":  # a window: check that the save file it opens is there
            assert (clone / words[1]).is_file(), f"`{command}`: no {words[1]}"
            continue
        before = _files(clone)
        out = _run(command, clone)
        _check_writes(command, clone, before)
        if _subcommand(words) == ("regress",):
            assert re.search(r"\b([1-9]\d*) passed, 0 failed", out), out[-2000:]
            regress.append(words)
    assert regress, "the README shows no regression command"
    if part == "standalone":
        return

    # The regressions that name files, from a folder below, paths relative to it, relative
    # -o; short runs on Icarus (the paths are the point: the runs above were as written).
    elsewhere = clone / "elsewhere"
    elsewhere.mkdir()
    moved_any = False
    for i, words in enumerate(regress):
        moved = ["../" + w if not w.startswith("-") and (clone / w).exists() else w
                 for w in words]
        if moved == words:
            continue
        moved_any = True
        rel_out = f"results{i}"
        command = shlex.join([*moved, "--sim", "icarus", "--steps", "20", "--checkpoint-every",
                              "10", "-o", rel_out])
        out = _run(command, elsewhere)
        assert re.search(r"\b([1-9]\d*) passed, 0 failed", out), out[-2000:]
        junit = elsewhere / rel_out / "junit.xml"
        assert junit.is_file() and (elsewhere / rel_out / "summary.json").is_file(), command
        assert "<testcase" in junit.read_text()
        assert not (clone / rel_out).exists() and not (REPO / rel_out).exists(), command
    assert moved_any, "no regression command of the README names a file"


def test_every_path_option_is_made_absolute() -> None:
    """Each file or folder option of every subcommand goes through ``user_path`` at parse
    time, so no later directory change can read it against another folder."""
    import argparse

    from trtrl.cli import build_parser
    from trtrl.pymodel.paths import user_path

    path_dests = {"out", "output", "rtl", "manifest", "extra_sources", "json", "build_dir",
                  "precision_csv", "case", "dump"}
    seen: list[str] = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{prefix} {name}")
            elif action.dest in path_dests:
                seen.append(f"{prefix} {action.dest}")
                assert action.type is user_path, f"{prefix}: --{action.dest} is not user_path"

    walk(build_parser(), "trtrl")
    assert len(seen) >= 15, seen  # the walk reached the subcommands
