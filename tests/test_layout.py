"""The package layout matches docs/design.md's module map, and the core stays pure."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "slicens"
#: A module past this many lines is due for a split (docs/design.md, "Modules").
MAX_LINES = 420


def _modules(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.py") if p.name != "__init__.py"}


def _mapped(folder: str) -> set[str]:
    """The modules docs/design.md's tree lists under ``folder/`` (``""``: the top)."""
    text = (ROOT / "docs" / "design.md").read_text()
    tree = text[text.index("## Modules and their rooms"):]
    tree = tree[tree.index("```\n") + 4:]
    names, current = set(), ""
    for line in tree[:tree.index("```")].splitlines()[1:]:  # the lines under "slicens/"
        indent = len(line) - len(line.lstrip())
        if indent == 2:
            current = line.strip()[:-1] if line.strip().endswith("/") else ""
        if (current if indent == 4 else "") == folder and indent in (2, 4):
            names |= set(re.findall(r"\b\w+\.py\b", line))
    return names - {"__init__.py"}


@pytest.mark.parametrize("folder", ["core", "host", ""])
def test_the_module_map_matches_the_tree(folder):
    assert _mapped(folder) == _modules(PACKAGE / folder)


def test_the_core_imports_nothing_from_the_host():
    for path in (PACKAGE / "core").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith("slicens") or name.startswith("slicens.core"), (
                    f"{path.name} imports {name}")


def test_no_module_is_due_for_a_split():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines())
             for p in PACKAGE.rglob("*.py")}
    assert {k: n for k, n in sizes.items() if n > MAX_LINES} == {}
