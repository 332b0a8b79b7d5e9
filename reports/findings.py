"""The monthly effectiveness report's highlights and shortfalls, derived from the indicators.

Each rate with a target (on scene in time, results in time, high-risk leads disposed, alerts verified within the
minute, complete records, entries in the record within their budget, mediation's success) is a **highlight** when
the month met its target, a **shortfall** when it did not; a move of :data:`MOVE` (5 points) or more against the
month before is said either way. Incidents falling (rising) by :data:`INCIDENTS_MOVE` or more is a highlight
(shortfall), and every breached deadline is a shortfall. Nothing here is written by hand: the same figures, the
same words, every month.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from i18n import rate_text, text
from indicators.compute import TARGETS
from mediation.cases import SUCCESS_TARGET

MOVE = 0.05  # a rate moving by 5 points month on month is worth saying
INCIDENTS_MOVE = 0.10
# (figure path, its name's catalogue key, the target)
RATES: tuple[tuple[str, str, float], ...] = (
    ("arrival.on_time", "ind.arrival_on_time", TARGETS["arrival_on_time"]),
    ("result.on_time", "ind.result_on_time", TARGETS["result_on_time"]),
    ("leads.disposal_rate", "ind.lead_disposal", TARGETS["lead_disposal"]),
    ("verification.rate", "ind.verification", TARGETS["verify_on_time"]),
    ("completeness.rate", "ind.completeness", TARGETS["completeness"]),
    ("timeliness.rate", "ind.timeliness", TARGETS["timeliness"]),
    ("mediation.success_rate", "ind.mediation", SUCCESS_TARGET),
)


@dataclass(frozen=True)
class Finding:
    what: str  # the indicator's name
    value: str
    target: str
    last_month: str
    why: str  # the sentence the report prints


def pick(figures: dict[str, Any], path: str) -> Any:
    value: Any = figures
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def findings(month: dict[str, Any], before: dict[str, Any], language: str) -> tuple[list[Finding], list[Finding]]:
    """(highlights, shortfalls) of a month's district figures against their targets and the month before."""
    good: list[Finding] = []
    bad: list[Finding] = []
    for path, name_key, target in RATES:
        value, previous = pick(month, path), pick(before, path)
        if value is None:
            continue
        name = text(name_key, language)
        row = (name, rate_text(value), rate_text(target), rate_text(previous))
        moved = None if previous is None else value - previous
        if value >= target:
            good.append(Finding(*row, text("report.finding.met", language, what=name, value=rate_text(value))))
        else:
            bad.append(Finding(*row, text("report.finding.missed", language, what=name, value=rate_text(value),
                                          target=rate_text(target))))
        if moved is not None and abs(moved) >= MOVE:
            sentence = text("report.finding.up" if moved > 0 else "report.finding.down", language, what=name,
                            points=f"{abs(moved) * 100:.1f}")
            (good if moved > 0 else bad).append(Finding(*row, sentence))
    incidents, earlier = month["incidents"]["count"], before["incidents"]["count"]
    if earlier:
        change = (incidents - earlier) / earlier
        if abs(change) >= INCIDENTS_MOVE:
            sentence = text("report.finding.incidents", language, count=incidents, before=earlier,
                            change=f"{change * 100:+.0f}%")
            row = (text("report.fig.incidents", language), str(incidents), "—", str(earlier))
            (good if change < 0 else bad).append(Finding(*row, sentence))
    breaches = month["instructions"]["breaches"]
    if breaches:
        bad.append(Finding(text("report.fig.breaches", language), str(breaches), "0",
                           str(before["instructions"]["breaches"]),
                           text("report.finding.breaches", language, count=breaches)))
    return good, bad
