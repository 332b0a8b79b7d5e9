"""The evaluation index as configuration: a tree of indicators, and how a score is made from it.

``data/evaluation.json`` (documented in ``docs/evaluation.md``) holds the tree: core indicators, second-level
ones, and leaves. Every node has a weight among its siblings; a leaf names the measure it reads
(:mod:`evaluation.measures`), its direction, its target and its zero, and the kinds of subject it applies to
(``community_officer``, ``grid_worker``, ``station``).

Scoring, the same for every subject:

- a leaf scores 100 at its target or better, 0 at its zero or worse, linearly between;
- a leaf without data in the period (no arrivals to judge, no visits due) is *not scored*: it is shown as such
  and its weight goes to its scored siblings, so nobody gains or loses by having nothing to judge;
- a node scores the weighted mean of its scored children; with none, it is not scored either;
- a leaf that does not apply to the subject's kind is left out of that subject's tree altogether.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "evaluation.json"
MAX_DEPTH = 4  # core → second → third level (and one spare level for a bureau that needs it)


class SubjectKind(StrEnum):
    COMMUNITY_OFFICER = "community_officer"
    GRID_WORKER = "grid_worker"
    STATION = "station"


class Direction(StrEnum):
    HIGHER = "higher"  # more is better: a rate, records collected
    LOWER = "lower"  # less is better: breaches, repeat incidents


class IndexInvalid(ValueError):
    """The configuration cannot be used: the message names the node and what is wrong."""


@dataclass(frozen=True)
class Node:
    node_id: str
    name_zh: str
    name_en: str
    weight: float
    children: tuple[Node, ...] = ()
    measure: str | None = None  # leaves only
    direction: Direction = Direction.HIGHER
    target: float = 1.0
    zero: float = 0.0
    applies_to: frozenset[SubjectKind] = frozenset(SubjectKind)

    @property
    def is_leaf(self) -> bool:
        return self.measure is not None

    def name(self, language: str) -> str:
        return self.name_zh if language == "zh-CN" else self.name_en

    def applies(self, kind: SubjectKind) -> bool:
        """A leaf applies to the kinds it names; a node, when any leaf under it does."""
        if self.is_leaf:
            return kind in self.applies_to
        return any(child.applies(kind) for child in self.children)

    def leaf_score(self, value: float | None) -> float | None:
        """0–100 from the value against the target and the zero; ``None`` when there is no value."""
        if value is None:
            return None
        span = self.target - self.zero
        share = (value - self.zero) / span
        return round(100 * min(1.0, max(0.0, share)), 2)


@dataclass(frozen=True)
class Index:
    version: str
    tree: tuple[Node, ...]
    digest: str  # of the file's content: a stored score names the index it was made with
    _pruned: dict[SubjectKind, Node] = field(default_factory=dict, compare=False, repr=False)

    def walk(self) -> Iterator[Node]:
        stack = list(reversed(self.tree))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def leaves(self) -> list[Node]:
        return [node for node in self.walk() if node.is_leaf]

    def get(self, node_id: str) -> Node | None:
        return next((node for node in self.walk() if node.node_id == node_id), None)

    def measures(self) -> set[str]:
        return {node.measure for node in self.leaves() if node.measure}

    def tree_for(self, kind: SubjectKind) -> Node:
        """The tree under a root ``total`` with only what applies to ``kind`` (made once per kind)."""
        if kind not in self._pruned:
            root = _pruned(Node(ROOT_ID, "综合得分", "Overall", 1.0, children=self.tree), kind)
            assert root is not None  # the index has a leaf for every kind (checked on load)
            self._pruned[kind] = root
        return self._pruned[kind]


def _pruned(node: Node, kind: SubjectKind) -> Node | None:
    if not node.applies(kind):
        return None
    if node.is_leaf:
        return node
    return replace(node, children=tuple(c for child in node.children if (c := _pruned(child, kind)) is not None))


@dataclass
class Scored:
    """A node's score for one subject: the tree as the drill-down shows it."""

    node: Node
    score: float | None
    share: float  # of the parent's score this node carries (its weight among its scored siblings); 0 unscored
    value: float | None = None  # leaves: the measured value
    numerator: float | None = None
    denominator: float | None = None
    children: list[Scored] = field(default_factory=list)

    def find(self, node_id: str) -> Scored | None:
        if self.node.node_id == node_id:
            return self
        return next((found for child in self.children if (found := child.find(node_id)) is not None), None)

    def flat(self) -> dict[str, float | None]:
        """Every node's score by id (what is stored, and compared when a month is recomputed)."""
        found = {self.node.node_id: self.score}
        for child in self.children:
            found |= child.flat()
        return found


@dataclass(frozen=True)
class Reading:
    """What a measure found for a subject in a period: the value, and what it was computed from."""

    value: float | None
    numerator: float | None = None
    denominator: float | None = None


ROOT_ID = "total"


def score(index: Index, kind: SubjectKind, readings: Mapping[str, Reading]) -> Scored:
    """The subject's tree, scored from its readings (by measure name), under a root ``total``."""
    scored = _score(index.tree_for(kind), readings)
    scored.share = 1.0
    return scored


def _score(node: Node, readings: Mapping[str, Reading]) -> Scored:
    if node.is_leaf:
        assert node.measure is not None
        reading = readings.get(node.measure, Reading(None))
        return Scored(node, node.leaf_score(reading.value), 0.0, reading.value, reading.numerator,
                      reading.denominator)
    children = [_score(child, readings) for child in node.children]
    weights = sum(c.node.weight for c in children if c.score is not None)
    for c in children:
        c.share = c.node.weight / weights if c.score is not None and weights else 0.0
    total = sum(c.share * c.score for c in children if c.score is not None) if weights else None
    return Scored(node, round(total, 2) if total is not None else None, 0.0, children=children)


def load(path: Path = DATA_FILE, known_measures: Iterable[str] | None = None) -> Index:
    """The index in ``path``, checked: every node named and weighted, every leaf's measure known (when
    ``known_measures`` is given), its direction consistent with its target and zero, ids unique."""
    raw = path.read_bytes()
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise IndexInvalid(f"{path.name}: not JSON ({exc})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("tree"), list) or not document["tree"]:
        raise IndexInvalid(f"{path.name}: needs a non-empty 'tree'")
    known = set(known_measures) if known_measures is not None else None
    seen: set[str] = set()
    tree = tuple(_node(item, 1, seen, known) for item in document["tree"])
    index = Index(str(document.get("version", "")), tree, hashlib.sha256(raw).hexdigest()[:16])
    for kind in SubjectKind:
        if not any(node.applies(kind) for node in tree):
            raise IndexInvalid(f"no leaf applies to {kind.value}")
    return index


def _node(item: Any, depth: int, seen: set[str], known: set[str] | None) -> Node:
    if not isinstance(item, dict):
        raise IndexInvalid(f"a node at depth {depth} is not an object")
    node_id = str(item.get("id", "")).strip()
    if not node_id:
        raise IndexInvalid(f"a node at depth {depth} has no id")
    if node_id in seen or node_id == ROOT_ID:
        raise IndexInvalid(f"{node_id}: id used twice")
    seen.add(node_id)
    if depth > MAX_DEPTH:
        raise IndexInvalid(f"{node_id}: deeper than {MAX_DEPTH} levels")
    names = {key: str(item.get(key, "")).strip() for key in ("name_zh", "name_en")}
    if not all(names.values()):
        raise IndexInvalid(f"{node_id}: needs name_zh and name_en")
    weight = _number(item, "weight", node_id)
    if weight <= 0:
        raise IndexInvalid(f"{node_id}: weight must be above 0")
    children = item.get("children")
    measure = item.get("measure")
    if (children is None) == (measure is None):
        raise IndexInvalid(f"{node_id}: a node has either children or a measure")
    if children is not None:
        if not isinstance(children, list) or not children:
            raise IndexInvalid(f"{node_id}: children must be a non-empty list")
        return Node(node_id, names["name_zh"], names["name_en"], weight,
                    children=tuple(_node(child, depth + 1, seen, known) for child in children))
    measure = str(measure)
    if known is not None and measure not in known:
        raise IndexInvalid(f"{node_id}: unknown measure {measure!r}")
    try:
        direction = Direction(item.get("direction", ""))
    except ValueError as exc:
        raise IndexInvalid(f"{node_id}: direction must be 'higher' or 'lower'") from exc
    target, zero = _number(item, "target", node_id), _number(item, "zero", node_id)
    if (target > zero) != (direction is Direction.HIGHER) or target == zero:
        raise IndexInvalid(f"{node_id}: with direction {direction.value!r} the target must be "
                           f"{'above' if direction is Direction.HIGHER else 'below'} the zero")
    try:
        applies_to = frozenset(SubjectKind(kind) for kind in item.get("applies_to", [k.value for k in SubjectKind]))
    except ValueError as exc:
        raise IndexInvalid(f"{node_id}: applies_to names an unknown kind ({exc})") from exc
    if not applies_to:
        raise IndexInvalid(f"{node_id}: applies to no kind of subject")
    return Node(node_id, names["name_zh"], names["name_en"], weight, measure=measure, direction=direction,
                target=target, zero=zero, applies_to=applies_to)


def _number(item: Mapping[str, Any], key: str, node_id: str) -> float:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IndexInvalid(f"{node_id}: {key} must be a number")
    return float(value)
