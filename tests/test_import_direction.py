"""Imports point one way: stats_api may import stats_platform, never the reverse.

And: stats_platform/transforms/ imports neither dagster nor stats_api; nothing in stats_api
imports dagster. Every module is parsed with `ast`, so only import statements count (wherever
they stand: module level, inside a function, under `if TYPE_CHECKING:`); a string naming a module,
such as "stats_api.main:create_app" in a command line, is not an import. Relative imports stay
inside their own package and are not looked at.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Rule:
    """Modules of `package` (and of its subpackages) import none of `forbidden`."""

    package: str
    forbidden: tuple[str, ...]


RULES = (
    Rule("stats_platform", ("stats_api",)),
    Rule("stats_platform.transforms", ("dagster", "stats_api")),
    Rule("stats_api", ("dagster",)),
)


@dataclass(frozen=True, order=True)
class Violation:
    path: str  # relative to the scanned root, with forward slashes
    line: int
    module: str  # the importing module, dotted
    imported: str  # the imported module, dotted, as written

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.imported}"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_of(root: Path, package: str) -> list[Path]:
    """Every .py file of `package` under root, subpackages included."""
    folder = root.joinpath(*package.split("."))
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted module) of every absolute import statement anywhere in the tree."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def check(root: Path, rules: tuple[Rule, ...] = RULES) -> list[Violation]:
    """The imports under root that break a rule: each one once, sorted by file and line."""
    violations: set[Violation] = set()
    for rule in rules:
        for path in modules_of(root, rule.package):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, imported in imported_modules(tree):
                if any(is_within(imported, name) for name in rule.forbidden):
                    relative = path.relative_to(root).as_posix()
                    violations.add(Violation(relative, line, module_name(root, path), imported))
    return sorted(violations)


def assert_one_way(root: Path) -> None:
    violations = check(root)
    assert not violations, "imports against the house rule:\n" + "\n".join(map(str, violations))


def test_imports_point_one_way() -> None:
    for rule in RULES:  # a wrong root would find no module, and nothing to refuse
        assert modules_of(PROJECT_ROOT, rule.package), f"no module of {rule.package} found"
    assert_one_way(PROJECT_ROOT)


def write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"))


def test_the_checker_names_exactly_the_modules_and_lines_that_break_the_rule(
    tmp_path: Path,
) -> None:
    write(tmp_path, "stats_platform/__init__.py", "")
    write(
        tmp_path,
        "stats_platform/tools/cli.py",
        """
        import subprocess
        from . import launcher
        from .launcher import start

        COMMAND = ["uvicorn", "stats_api.main:create_app", "--factory"]  # a string, not an import


        def serve() -> None:
            from stats_api.main import create_app
            subprocess.run(COMMAND)
        """,
    )
    write(tmp_path, "stats_platform/transforms/__init__.py", "import polars\n")
    write(
        tmp_path,
        "stats_platform/transforms/voice.py",
        """
        from __future__ import annotations

        import polars as pl
        import os, dagster as dg
        """,
    )
    write(tmp_path, "stats_platform/defs/assets.py", "import dagster as dg\nimport dagster_pipes\n")
    write(
        tmp_path,
        "stats_api/engine/reads.py",
        """
        from typing import TYPE_CHECKING

        from stats_platform.settings import Settings
        import stats_apix

        if TYPE_CHECKING:
            from dagster._core.instance import DagsterInstance
        """,
    )

    assert check(tmp_path) == [
        Violation(
            "stats_api/engine/reads.py", 7, "stats_api.engine.reads", "dagster._core.instance"
        ),
        Violation("stats_platform/tools/cli.py", 9, "stats_platform.tools.cli", "stats_api.main"),
        Violation(
            "stats_platform/transforms/voice.py", 4, "stats_platform.transforms.voice", "dagster"
        ),
    ]
    with pytest.raises(AssertionError) as refused:
        assert_one_way(tmp_path)
    assert "stats_platform/tools/cli.py:9: stats_platform.tools.cli imports stats_api.main" in str(
        refused.value
    )


def test_a_transform_importing_stats_api_is_reported_once(tmp_path: Path) -> None:
    # Two rules forbid it (stats_platform's and transforms'): one finding, not two.
    write(
        tmp_path,
        "stats_platform/transforms/common.py",
        '"""Helpers."""\n\nimport stats_api.periods as periods\n',
    )
    assert check(tmp_path) == [
        Violation(
            "stats_platform/transforms/common.py",
            3,
            "stats_platform.transforms.common",
            "stats_api.periods",
        )
    ]
