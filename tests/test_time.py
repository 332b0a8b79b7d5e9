"""The suite passes on any day: no literal date outside an explicitly frozen clock.

A fixture that carries a calendar date ages: the day after it was written, "today" no longer
contains it (a clean clone once failed CI for that). So in the test code (tests/, faults/,
bench/, testkit/) a literal date (an ISO date in a string, ``date(2026, …)`` or
``datetime(2026, …)``) may only appear where the clock is frozen on purpose: in a module whose
``pytestmark`` is ``pytest.mark.time_machine(…)``, in a test or class carrying that mark, inside
``with time_machine.travel(…)`` / a ``@time_machine.travel(…)`` function, or as the moment such a
mark or ``move_to`` is given. Everywhere else, times are built from :func:`clock.now`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from settings import PROJECT_ROOT

SCANNED = ("tests", "faults", "bench", "testkit")
ISO_DATE = re.compile(r"(?<!\d)(19|20)\d\d-[01]\d-[0-3]\d(?!\d)")
FREEZERS = {"time_machine", "travel", "move_to"}


def _names(node: ast.AST) -> set[str]:
    """Every name along a call's function: ``pytest.mark.time_machine`` -> {pytest, mark, time_machine}."""
    found = set()
    while isinstance(node, ast.Attribute | ast.Call):
        if isinstance(node, ast.Call):
            node = node.func
            continue
        found.add(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        found.add(node.id)
    return found


def _freezes(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and bool(_names(node.func) & FREEZERS)


def _is_literal_date(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(ISO_DATE.search(node.value))
    if isinstance(node, ast.Call) and _names(node.func) & {"date", "datetime"} and node.args:
        year = node.args[0]
        return isinstance(year, ast.Constant) and isinstance(year.value, int) and year.value >= 1900
    return False


def unfrozen_dates(source: str) -> list[int]:
    """Line numbers of literal dates in ``source`` that sit outside every frozen clock."""
    tree = ast.parse(source)
    module_frozen = any(
        isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets)
        and any(_freezes(n) for n in ast.walk(stmt.value))
        for stmt in tree.body
    )
    if module_frozen:
        return []
    lines: list[int] = []

    def visit(node: ast.AST, frozen: bool) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            frozen = frozen or any(_freezes(d) for d in node.decorator_list)
        elif isinstance(node, ast.With | ast.AsyncWith):
            frozen = frozen or any(_freezes(item.context_expr) for item in node.items)
        elif _freezes(node):
            frozen = True  # the frozen moment itself
        if not frozen and _is_literal_date(node):
            lines.append(getattr(node, "lineno", 0))
            return
        for child in ast.iter_child_nodes(node):
            visit(child, frozen)

    visit(tree, False)
    return lines


def test_time001_no_literal_date_outside_a_frozen_clock() -> None:
    offenders = []
    for folder in SCANNED:
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            for line in unfrozen_dates(path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{line}")
    assert not offenders, "literal dates outside a frozen clock:\n" + "\n".join(offenders)


@pytest.mark.time_machine("2026-11-27T12:00:00+08:00", tick=False)  # its sample sources hold dates
def test_time002_the_check_finds_what_it_must_and_only_that() -> None:
    source = '''
import pytest, time_machine
from datetime import date, datetime
A = "2026-11-27T09:30:00+08:00"
B = date(2026, 11, 24)
@pytest.mark.time_machine("2026-01-01T00:00:00+08:00")
def test_frozen():
    C = datetime(2026, 1, 1)
def test_travel():
    with time_machine.travel("2027-03-01"):
        D = "2027-03-01"
    E = "2026-12-31"
def test_relative():
    F = date(now.year, 1, 1)
'''
    assert unfrozen_dates(source) == [4, 5, 12]
    frozen_module = 'import pytest\npytestmark = pytest.mark.time_machine("2026-11-25")\nX = "2026-11-24"\n'
    assert unfrozen_dates(frozen_module) == []


def test_time003_the_check_covers_every_place_test_code_lives() -> None:
    for folder in SCANNED:
        assert any((PROJECT_ROOT / folder).rglob("*.py")), folder
    assert Path(__file__).parent.name in SCANNED
