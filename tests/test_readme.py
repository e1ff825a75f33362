"""The README cannot rot: every ```python block runs, in order, in one namespace, and
a ```text block right after a python block is exactly what that block prints (``[...]``
in the shown text stands for any characters within that line, for digits that depend on
the machine's floating point, such as finite-difference errors)."""
import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)


def readme_blocks() -> list:
    """``[(python source, expected output or None, line number)]`` in README order."""
    text = README.read_text()
    found = [(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1, m.start(), m.end()) for m in BLOCK.finditer(text)]
    blocks = []
    for k, (lang, body, line, start, end) in enumerate(found):
        if lang != "python":
            continue
        expected = None
        if k + 1 < len(found) and found[k + 1][0] == "text" and not text[end:found[k + 1][3]].strip():
            expected = found[k + 1][1]
        blocks.append((body, expected, line))
    return blocks


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def test_the_readme_has_examples_with_their_output():
    blocks = readme_blocks()
    assert len(blocks) >= 5
    assert sum(expected is not None for _, expected, _ in blocks) >= 3


def test_every_python_block_runs_and_prints_what_the_readme_shows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    for source, expected, line in readme_blocks():
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(source, f"README.md:{line}", "exec"), namespace)  # noqa: S102 - the README's own code
            except Exception as error:  # noqa: BLE001
                pytest.fail(f"the README block at line {line} raised {type(error).__name__}: {error}")
        if expected is not None:
            got, want = _normalise(out.getvalue()), _normalise(expected)
            pattern = "[^\\n]*".join(re.escape(part) for part in want.split("[...]"))
            assert re.fullmatch(pattern, got) if "[...]" in want else got == want, (
                f"README block at line {line} printed:\n{got}\n\nthe README shows:\n{want}"
            )
