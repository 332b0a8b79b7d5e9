"""What one return-visit call can find: the desk's choices and the call centre's (ingest contract)."""

from __future__ import annotations

from enum import StrEnum


class VisitResult(StrEnum):
    SATISFIED = "satisfied"
    NOT_SATISFIED = "not_satisfied"
    PERSISTS = "persists"  # the problem is still there
    UNREACHABLE = "unreachable"  # no answer on this call


# The answers that reopen the matter.
REOPENS = frozenset({VisitResult.NOT_SATISFIED, VisitResult.PERSISTS})
