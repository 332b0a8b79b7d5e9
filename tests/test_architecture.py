"""Imports flow one way: the domain never imports the UI, no package imports one that imports it back,
and each contract (component ids, URLs, live-event types) is spelled in one place."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from settings import PROJECT_ROOT

# The domain and its plumbing: no Dash, no Flask.
DOMAIN = ("clock", "deadlines", "settings", "i18n", "urls", "services", "geo", "store", "bus", "ingest", "push",
          "simulation", "dispatch", "gridwork", "sensors", "risk", "indicators", "reports", "revisits", "media",
          "supervision", "mediation", "video", "positions", "duties", "evaluation")
UI = {"dash", "dash_leaflet", "dash_extensions", "dash_socketio", "callbacks", "layouts", "flask_socketio"}
WEB = {"flask", "flask_login", "routes", "auth", "app"}
SKIPPED = {".venv", "var", "node_modules", ".git", "migrations"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def project_files() -> list[Path]:
    return [p for p in PROJECT_ROOT.rglob("*.py") if not SKIPPED & set(p.relative_to(PROJECT_ROOT).parts)]


def owner(path: Path) -> str:
    """The package (or top-level module) a file belongs to."""
    return path.relative_to(PROJECT_ROOT).parts[0].removesuffix(".py")


def package_graph() -> dict[str, set[str]]:
    """Package -> the project's packages it imports."""
    files = project_files()
    ours = {owner(p) for p in files}
    graph: dict[str, set[str]] = {name: set() for name in ours}
    for path in files:
        graph[owner(path)] |= (imported_modules(path) & ours) - {owner(path)}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_arch001_the_domain_imports_no_ui_and_no_web() -> None:
    offenders = []
    for package in DOMAIN:
        paths = [PROJECT_ROOT / f"{package}.py"] if (PROJECT_ROOT / f"{package}.py").exists() else \
            list((PROJECT_ROOT / package).glob("**/*.py"))
        assert paths, package
        for path in paths:
            bad = imported_modules(path) & (UI | WEB)
            if bad:
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}: {sorted(bad)}")
    assert offenders == []


def test_arch002_no_package_imports_one_that_imports_it_back() -> None:
    graph = package_graph()
    assert {"bus", "ingest", "push", "dispatch", "tests", "bench", "faults", "testkit"} <= set(graph)
    assert cycles(graph) == []


def test_arch003_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_arch004_security_imports_no_ui() -> None:
    """auth/ (sign-in, roles, the guard) works on Flask and the store; it never reaches into the UI."""
    for path in (PROJECT_ROOT / "auth").glob("**/*.py"):
        assert not imported_modules(path) & (UI - {"flask_socketio"}), path


def test_arch005_layouts_do_not_import_callbacks() -> None:
    for path in (PROJECT_ROOT / "layouts").glob("*.py"):
        assert "callbacks" not in imported_modules(path), path


def test_arch006_component_ids_are_not_spelled_inline() -> None:
    """Callbacks and layouts pass ID members, never string literals, as component ids."""
    offenders = []
    for package in ("layouts", "callbacks"):
        for path in (PROJECT_ROOT / package).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.keyword) and node.arg == "id" and isinstance(node.value, ast.Constant):
                    offenders.append(f"{path.name}:{node.lineno}")
                if (isinstance(node, ast.Call) and getattr(node.func, "id", "") in {"Input", "Output", "State"}
                        and node.args and isinstance(node.args[0], ast.Constant)):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_arch007_urls_are_not_spelled_inline() -> None:
    """Routes, pages and page scripts take URLs from urls.py: no path literal in a route, a link or a script."""
    offenders = []
    for package in ("routes", "auth", "layouts", "callbacks"):
        for path in (PROJECT_ROOT / package).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in {"get", "post", "route", "add_url_rule", "redirect"}
                        and node.args and isinstance(node.args[0], ast.Constant)
                        and str(node.args[0].value).startswith("/")):
                    offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
                if isinstance(node, ast.keyword) and node.arg == "href" and isinstance(node.value, ast.Constant):
                    offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    link = re.compile(r'(?:href|action)="(/[^"]*)"')
    for path in (PROJECT_ROOT / "templates").glob("*.html"):
        offenders += [f"{path.name}: {m.group(1)}" for m in link.finditer(path.read_text(encoding="utf-8"))
                      if not m.group(1).startswith("/assets/")]
    script_path = re.compile(r"""["']/(live|login|logout|auth|admin|reports|geo|risk)\b""")
    for path in (PROJECT_ROOT / "assets").glob("*.js"):
        offenders += [f"{path.name}: {m.group(0)}" for m in script_path.finditer(path.read_text(encoding="utf-8"))]
    assert offenders == []
