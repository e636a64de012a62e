"""The README's Python examples run and print what their comments say.

Each ```python block that imports chainrule is run as it stands; every ``print(…)  # text``
line must print what the comment shows (numbers at rounding level, below 1e-12, need only
stay there).
"""

import ast
import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
BLOCKS = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if "import chainrule" in b]


def _same(printed: str, comment: str) -> bool:
    """The comment shows what is printed (and may say more about it); numbers at rounding
    level, below 1e-12, need only stay there."""
    if printed and printed in comment:
        return True
    said, shown = (re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", t) for t in (comment, printed))
    return bool(shown) and len(said) >= len(shown) and all(
        a == b or (abs(float(a)) < 1e-12 and abs(float(b)) < 1e-12) for a, b in zip(shown, said))


def test_there_are_examples_to_run():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_a_readme_example_prints_what_it_says(block):
    lines, namespace = block.splitlines(), {}
    for statement in ast.parse(block).body:
        code = compile(ast.Module([statement], type_ignores=[]), "README.md", "exec")
        comment = re.search(r"#\s*(.*)$", lines[statement.end_lineno - 1])
        is_print = (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
                    and getattr(statement.value.func, "id", None) == "print")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
        if is_print and comment:
            printed = out.getvalue().strip()
            assert _same(printed, comment.group(1).strip()), (lines[statement.lineno - 1], printed)
