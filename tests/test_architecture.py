"""Imports flow one way: the domain never imports Dash, callbacks or layouts."""

from __future__ import annotations

import ast
from pathlib import Path

from settings import PROJECT_ROOT

DOMAIN_PACKAGES = ("geo", "streams", "dispatch", "risk", "store", "sensors", "indicators", "reports")
FORBIDDEN = ("dash", "dash_leaflet", "dash_extensions", "dash_socketio", "callbacks", "layouts", "flask_socketio")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_arch001_domain_imports_no_ui() -> None:
    offenders = []
    for package in DOMAIN_PACKAGES:
        for path in (PROJECT_ROOT / package).glob("**/*.py"):
            bad = imported_modules(path) & set(FORBIDDEN)
            if bad:
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}: {sorted(bad)}")
    assert offenders == []
    assert (PROJECT_ROOT / "geo").is_dir()


def test_arch004_security_imports_no_ui() -> None:
    """auth/ (sign-in, roles, the guard) works on Flask and the store; it never reaches into the UI."""
    ui = {"dash", "dash_leaflet", "dash_extensions", "dash_socketio", "callbacks", "layouts"}
    for path in (PROJECT_ROOT / "auth").glob("**/*.py"):
        assert not imported_modules(path) & ui, path


def test_arch002_layouts_do_not_import_callbacks() -> None:
    for path in (PROJECT_ROOT / "layouts").glob("*.py"):
        assert "callbacks" not in imported_modules(path), path


def test_arch003_component_ids_are_not_spelled_inline() -> None:
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
