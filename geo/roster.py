"""Who works the grids: the community officers and grid workers the grid data names, as people.

The grid data names one community police officer and one grid worker per grid ("1+1+N"). A person is one name
within one station: an officer named in three of a station's grids covers those three (the same name in another
station is another person; common names recur). Each person has a stable id while the grids are stable: ``CO-``
(community officer) or ``GW-`` (grid worker) and their first grid's code, e.g. ``CO-SC-001``. Everything that
belongs to a person (their scores, their duties, their positions) is filed under this id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from geo.index import Grid, GridIndex


class Post(StrEnum):
    COMMUNITY_OFFICER = "community_officer"  # 社区民警: the grid team's "1" from the police station
    GRID_WORKER = "grid_worker"  # 专职网格员: the grid team's full-time worker


ID_PREFIX = {Post.COMMUNITY_OFFICER: "CO-", Post.GRID_WORKER: "GW-"}
_NAME_FIELD = {Post.COMMUNITY_OFFICER: "officer", Post.GRID_WORKER: "worker"}


@dataclass(frozen=True)
class Person:
    person_id: str
    post: Post
    station: str
    name_zh: str
    name_en: str
    grids: tuple[str, ...]  # in code order

    def name(self, language: str) -> str:
        return self.name_zh if language == "zh-CN" else self.name_en


class Roster:
    """The grid teams' people, built once from the grids."""

    def __init__(self, grids: GridIndex) -> None:
        members: dict[tuple[Post, str, str], list[Grid]] = {}
        for code in sorted(grids.codes.tolist()):
            grid = grids.get(code)
            assert grid is not None
            for post, field in _NAME_FIELD.items():
                members.setdefault((post, grid.station, getattr(grid, f"{field}_zh")), []).append(grid)
        self._people: dict[str, Person] = {}
        self._by_grid: dict[tuple[str, Post], Person] = {}
        for (post, station, name_zh), their_grids in members.items():
            first = their_grids[0]
            person = Person(f"{ID_PREFIX[post]}{first.code}", post, station, name_zh,
                            getattr(first, f"{_NAME_FIELD[post]}_en"), tuple(grid.code for grid in their_grids))
            self._people[person.person_id] = person
            for grid in their_grids:
                self._by_grid[(grid.code, post)] = person

    def __len__(self) -> int:
        return len(self._people)

    def get(self, person_id: str) -> Person | None:
        return self._people.get(person_id)

    def people(self, post: Post | None = None, station: str | None = None) -> list[Person]:
        """The people of a post (or all), of a station (or all), by id."""
        return sorted((p for p in self._people.values()
                       if (post is None or p.post == post) and (station is None or p.station == station)),
                      key=lambda p: p.person_id)

    def of_grid(self, grid: str, post: Post) -> Person | None:
        """The officer or worker who works ``grid``."""
        return self._by_grid.get((grid, post))

    def of_grids(self, grids: Iterable[str], post: Post) -> list[Person]:
        """The people of ``post`` who work any of ``grids`` (a signed-in user's own, from their bound grids)."""
        found = {person.person_id: person for grid in grids if (person := self.of_grid(grid, post)) is not None}
        return [found[key] for key in sorted(found)]
