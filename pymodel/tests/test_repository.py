"""The repository is self-contained: no pointer to files a fresh clone does not have.

Two checks over the files git tracks (skipped outside a git checkout of this project):

- no text file names the sibling folder ``shared`` above the repository (as ``..``
  followed by ``/shared``) or an absolute path under the ``work``, ``tmp`` or ``root``
  folders of the file system's root; a path that merely contains such a folder name
  (a relative ``out/tmp``, one under ``$HOME``, a URL) passes;
- every relative Markdown link or image in a tracked ``.md`` file points at a tracked
  file or folder that exists. Links into code (fenced or indented blocks, inline code
  spans) are not links; anchors (``#...``) and URLs (``https:``, ``mailto:``, ...) are
  not checked.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Two dots, a slash and "shared"; the patterns are written so that this file passes.
SHARED = re.compile(r"\.\./shared\b")
# An absolute path: the folder starts the path (nothing path-like right before its
# slash: not a name, ".", "~", "$", "-", a closing "}" or ")" of a variable, or another
# "/" of a longer path or URL) and something lies under it.
ABSOLUTE = re.compile(r"(?<![\w.~$/})\-])/(?:work|tmp|root)/")

# [text](target) or ![alt](target), with an optional "title"; <target> form too.
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+[\"'(][^)]*)?\)")
# [label]: target (a reference-style link definition).
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+).*?\1")


def tracked_files() -> list[str]:
    """Paths (relative, POSIX) that git tracks in this checkout; skip if there is none."""
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=ROOT,
                             capture_output=True, text=True, check=False)
    except OSError:
        pytest.skip("git is not installed")
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != ROOT:
        pytest.skip(f"{ROOT} is not a git checkout of this project")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                         check=True).stdout
    return [name for name in out.decode("utf-8").split("\0") if name]


def text_lines(name: str) -> list[str] | None:
    """The lines of a tracked text file; None for binaries and files not on disk."""
    path = ROOT / name
    if not path.is_file():
        return None
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None


def markdown_prose(lines: list[str]) -> list[tuple[int, str]]:
    """``(line number, text)`` of the lines outside code blocks, code spans removed.

    An indented code block is a run of lines indented 4 or more spaces after a blank
    line (inside a list item too, where it is indented further: this errs towards
    treating a line as code, so a link there is skipped rather than misread).
    """
    prose: list[tuple[int, str]] = []
    fence: str | None = None
    indented = False
    previous_blank = True
    for number, line in enumerate(lines, start=1):
        opening = FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        blank = not line.strip()
        deep = len(line) - len(line.lstrip(" ")) >= 4
        if blank:
            previous_blank = True
            continue
        if deep and (indented or previous_blank):
            indented = True
            previous_blank = False
            continue
        indented = False
        previous_blank = False
        prose.append((number, CODE_SPAN.sub("", line)))
    return prose


def link_targets(lines: list[str]) -> list[tuple[int, str]]:
    """``(line number, target)`` of every Markdown link and image outside code."""
    targets = []
    for number, text in markdown_prose(lines):
        found = [m.group(1) for m in INLINE_LINK.finditer(text)]
        ref = REFERENCE_DEF.match(text)
        if ref:
            found.append(ref.group(1))
        targets += [(number, t[1:-1] if t.startswith("<") else t) for t in found]
    return targets


def resolve(md_file: str, target: str) -> str | None:
    """The repository path a relative link points at; None for anchors and URLs.

    Returns a path that may start with ``..`` when the link leaves the repository.
    """
    if URL_SCHEME.match(target) or target.startswith("#"):
        return None
    path = unquote(target.split("#", 1)[0].split("?", 1)[0])
    if not path:
        return None
    if path.startswith("/"):  # GitHub resolves these from the repository's root
        joined = PurePosixPath(path.lstrip("/"))
    else:
        joined = PurePosixPath(md_file).parent / path
    parts: list[str] = []
    for part in joined.parts:
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            else:
                parts.append(part)
        elif part != ".":
            parts.append(part)
    return "/".join(parts) or "."


def test_no_path_outside_the_repository() -> None:
    problems = []
    for name in tracked_files():
        lines = text_lines(name)
        for number, line in enumerate(lines or [], start=1):
            if SHARED.search(line) or ABSOLUTE.search(line):
                problems.append(f"{name}:{number}: {line.strip()}")
    assert not problems, (
        "paths outside the repository (a fresh clone has no such file; point into the "
        "repository, e.g. docs/spec.md, or at a temporary folder the code makes):\n"
        + "\n".join(problems)
    )


def test_relative_markdown_links_resolve() -> None:
    tracked = tracked_files()
    files = set(tracked)
    folders = {str(p) for name in tracked for p in PurePosixPath(name).parents}
    problems = []
    for name in tracked:
        if not name.endswith(".md"):
            continue
        lines = text_lines(name)
        for number, target in link_targets(lines or []):
            path = resolve(name, target)
            if path is None:
                continue
            if path.startswith(".."):
                problems.append(f"{name}:{number}: ({target}) leaves the repository")
            elif path not in files and path not in folders:
                problems.append(f"{name}:{number}: ({target}) -> {path} is not a tracked file")
            elif not (ROOT / path).exists():
                problems.append(f"{name}:{number}: ({target}) -> {path} is missing on disk")
    assert not problems, "broken relative Markdown links:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("line", "bad"),
    [
        ("see `" + ".." + "/shared/spec.md`", True),
        ("written to " + "/tm" + "p/x.npz", True),
        ('ROOT = "' + "/wor" + 'k/main"', True),
        ("cd " + "/roo" + "t/.cache", True),
        ("out/tmp/x and $TMPDIR/tmp/y and ~/work/z", False),
        ("https://example.org/tmp/a and {base}/tmp/b and $(pwd)/root/c", False),
        ("tmp_path / 'case.npz'; /tmpfs; /workspace/x", False),
    ],
)
def test_path_patterns(line: str, bad: bool) -> None:
    assert bool(SHARED.search(line) or ABSOLUTE.search(line)) is bad


def test_link_parsing_skips_code_and_resolves_relative_paths() -> None:
    lines = [
        "See [the spec](docs/spec.md), ![a plot](img/a.png \"title\") and [x](#anchor).",
        "Also [`code`](../README.md#top), [site](https://example.org/a.md), [r]: ref.md",
        "[label]: <other file.md>",
        "",
        "    W[i, j](t+1) = W[i, j](t)    (indented code)",
        "```",
        "[not](a-link.md)",
        "```",
        "Inline `W[k, M+1+l](t)` is code too.",
    ]
    assert link_targets(lines) == [
        (1, "docs/spec.md"), (1, "img/a.png"), (1, "#anchor"),
        (2, "../README.md#top"), (2, "https://example.org/a.md"),
        (3, "other file.md"),
    ]
    assert resolve("pymodel/FIXED_POINT.md", "../docs/spec.md") == "docs/spec.md"
    assert resolve("docs/spec.md", "../pymodel/FIXED_POINT.md#layout") == "pymodel/FIXED_POINT.md"
    assert resolve("README.md", "docs/img/a%20b.png") == "docs/img/a b.png"
    assert resolve("README.md", "../elsewhere.md") == "../elsewhere.md"
    assert resolve("README.md", "#anchor") is None
    assert resolve("README.md", "mailto:someone@example.org") is None
