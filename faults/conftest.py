"""Fault-suite options: ``--long`` runs the release form (more kills, bigger loads)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", help="the long (release) form of the fault suite")


@pytest.fixture(scope="session")
def long_form(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--long"))
