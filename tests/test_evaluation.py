"""The evaluation index: the configuration, scores on a hand-built day, kept months, and who sees what.

The day is the indicators' constructed day (tests/indicator_data.py): grid G1 (SC-001, station PS-01) has
incidents 1–3 (a repeat place), instructions I1 (on time) and I2 (late twice), lead L1 (high, handled on time)
and alerts A1 (verified in 30 s) and A2 (90 s); G2 (another station) the rest. Every figure below is worked out
by hand from those rows and the shipped index (data/evaluation.json).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, insert, select

from app import PinganApp, create_app
from auth.roles import Role, Viewer
from clock import Period
from evaluation import index as ev_index
from evaluation.index import IndexInvalid, Reading, SubjectKind
from evaluation.measures import MEASURES
from evaluation.service import EvaluationService, Scope
from geo.index import GridIndex
from geo.roster import Post, Roster
from reports.build import Kind as ReportKind
from reports.build import ReportBuilder
from reports.render import standalone_html as report_html
from settings import Settings
from store.db import audit_log, evaluation_scores, incidents
from testkit.accounts import make_user, sign_in_client
from tests.indicator_data import AT, DAY, bj, insert_day

pytestmark = pytest.mark.time_machine(AT, tick=False)

G1 = "SC-001"  # PS-01's first grid: its community officer is CO-SC-001, its grid worker GW-SC-001


@dataclass(frozen=True)
class Stay:
    working_s: float
    inside_s: float
    unknown_s: float = 0.0
    fixes: int = 42


def other_station_grid(grids: GridIndex) -> str:
    """G2: a grid of another station than G1's."""
    return next(code for code in sorted(grids.codes.tolist())
                if getattr(grids.get(code), "station", None) != getattr(grids.get(G1), "station", None))


@pytest.fixture
def grids() -> GridIndex:
    return GridIndex()


@pytest.fixture
def service(engine: Engine, grids: GridIndex) -> EvaluationService:
    insert_day(engine, G1, other_station_grid(grids))
    index = ev_index.load(known_measures=MEASURES)
    # The officer of G1 spent 5.6 of 7 working hours in their community (80%: the target).
    return EvaluationService(engine, grids, Roster(grids), index,
                             presence=lambda period, now: {"CO-SC-001": Stay(7 * 3600, 5.6 * 3600)},
                             now=lambda: datetime.fromisoformat(AT))


def values(result: Any) -> dict[str, tuple[float | None, float | None, float | None]]:
    return {name: (r.value, r.numerator, r.denominator) for name, r in result.readings.items()}


# -- the configuration -------------------------------------------------------------------------------------------

def test_eval001_the_shipped_index_is_whole_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    index = ev_index.load(known_measures=MEASURES)
    assert len(index.tree) == 6  # six core indicators, as the Fengqiao index has
    assert all(len(list(_depths(core))) and max(_depths(core)) == 3 for core in index.tree)
    assert index.measures() == set(MEASURES)  # every measure the product has is used, none unknown
    for kind in SubjectKind:
        assert index.tree_for(kind).children  # every kind of subject has something to be judged on

    good = json.loads(ev_index.DATA_FILE.read_text(encoding="utf-8"))
    leaf = good["tree"][0]["children"][0]["children"][0]

    def refused(change: dict[str, Any], where: dict[str, Any] = leaf) -> str:
        broken = json.loads(json.dumps(good))
        target = _find(broken, where["id"])
        target.update(change)
        path = tmp_path / "evaluation.json"
        path.write_text(json.dumps(broken), encoding="utf-8")
        with pytest.raises(IndexInvalid) as caught:
            ev_index.load(path, known_measures=MEASURES)
        return str(caught.value)

    assert "unknown measure 'arrivals'" in refused({"measure": "arrivals"})
    assert "target must be above the zero" in refused({"target": 0.5, "zero": 0.6})
    assert "target must be below the zero" in refused({"direction": "lower"})
    assert "weight must be above 0" in refused({"weight": 0})
    assert "weight must be a number" in refused({"weight": "heavy"})
    assert "id used twice" in refused({"id": "response"})
    assert "either children or a measure" in refused({"children": [dict(leaf, id="x")]})
    assert "unknown kind" in refused({"applies_to": ["chief"]})
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(IndexInvalid, match="not JSON"):
        ev_index.load(tmp_path / "bad.json")


def _depths(node: ev_index.Node, depth: int = 1) -> list[int]:
    return [depth] if node.is_leaf else [d for child in node.children for d in _depths(child, depth + 1)]


def _find(document: dict[str, Any], node_id: str) -> dict[str, Any]:
    stack = list(document["tree"])
    while stack:
        node = stack.pop()
        if node["id"] == node_id:
            return node  # type: ignore[no-any-return]
        stack.extend(node.get("children", []))
    raise KeyError(node_id)


# -- scores on the hand-built day --------------------------------------------------------------------------------

def test_eval002_a_community_officers_every_leaf_on_the_hand_built_day(service: EvaluationService) -> None:
    result = service.compute(Period.day(DAY), service.now(), only=["CO-SC-001"]).results["CO-SC-001"]
    readings = values(result)
    assert readings["arrival_on_time"] == (0.5, 1, 2)  # I1 in 4 of 5 minutes; I2 in 20 of 15
    assert readings["result_on_time"] == (0.5, 1, 2)  # I1 after 10 of 15; I2 after 30
    assert readings["instruction_breaches"][0] == 1  # I2 (late on both clocks: one instruction)
    assert readings["lead_disposal"] == (1.0, 1, 1) and readings["lead_on_time"] == (1.0, 1, 1)  # L1
    assert readings["repeat_incidents"] == (1.0, 3, 3)  # incidents 1–3: one place written three ways
    assert readings["completeness"] == (1.0, 3, 3)
    assert readings["grid_records_per_day"] == (0.0, 0, 1)  # no grid records; one worker, one day
    assert readings["time_in_community"] == (0.8, 5.6, 7.0)  # hours
    for unjudged in ("mediation_success", "revisit_satisfaction", "grid_data_timeliness"):
        assert readings[unjudged][0] is None

    scores = result.scored.flat()
    leaves = {"response.arrival.on_time": 0.0, "response.result.on_time": 0.0,  # below the 60% zero
              "response.breaches.instructions": 80.0,  # one of five
              "prevention.leads.disposal": 100.0, "prevention.leads.on_time": 100.0,
              "prevention.repeat.incidents": 0.0,  # all three at a repeated place (zero at 30%)
              "grid.collection.per_day": 0.0, "data.completeness.incidents": 100.0, "presence.time.share": 100.0,
              "conflict.mediation.success": None, "conflict.satisfaction.revisits": None,
              "data.timeliness.grid": None}
    assert {node: scores[node] for node in leaves} == leaves
    # What a community officer is not judged on is not in their tree at all.
    assert not {"prevention.alerts.verified", "grid.tasks.on_scene", "data.timeliness.all"} & scores.keys()
    assert scores["response"] == 16.0  # (0·50 + 0·30 + 80·20) / 100
    assert scores["prevention"] == 62.5  # (100·50 + 0·30) / 80: the alerts' 20 are not theirs
    assert scores["grid"] == 0.0
    assert scores["conflict"] is None  # nothing to judge: its 15 go to the others
    assert scores["data"] == 100.0 and scores["presence"] == 100.0
    assert result.score == round((16 * 20 + 62.5 * 20 + 0 * 20 + 100 * 10 + 100 * 15) / 85, 2) == 47.88
    prevention = result.scored.find("prevention")
    assert prevention is not None and [c.share for c in prevention.children] == [50 / 80, 30 / 80]


def test_eval003_a_grid_worker_and_a_station_on_the_same_day(service: EvaluationService) -> None:
    found = service.compute(Period.day(DAY), service.now(), only=["GW-SC-001", "PS-01"]).results
    worker = found["GW-SC-001"].scored.flat()
    assert worker["prevention"] == 0.0 and worker["grid"] == 0.0 and worker["data"] == 100.0
    assert worker["grid.tasks"] is None and worker["conflict"] is None  # no tasks, no visits that day
    assert found["GW-SC-001"].score == (0 * 20 + 0 * 20 + 100 * 10) / 50 == 20.0

    station = found["PS-01"]
    readings = values(station)
    assert readings["alert_verification"] == (0.5, 1, 2)  # A1 within the minute, A2 not
    assert readings["data_timeliness"] == (1.0, 5, 5)  # incidents 1–3 and alerts A1, A2 kept at once
    assert readings["time_in_community"] == (0.8, 5.6, 7.0)  # its officers' hours together
    flat = station.scored.flat()
    assert flat["prevention"] == 50.0  # (100·50 + 0·30 + 0·20) / 100
    assert flat["data"] == 100.0
    assert station.score == round((16 * 20 + 50 * 20 + 0 * 20 + 100 * 10 + 100 * 15) / 85, 2) == 44.94


def test_eval004_weights_and_targets_come_from_the_configuration(service: EvaluationService, tmp_path: Path) -> None:
    document = json.loads(ev_index.DATA_FILE.read_text(encoding="utf-8"))
    _find(document, "response.arrival.on_time").update({"target": 0.5, "zero": 0.0})  # half on time is enough
    _find(document, "response")["weight"] = 40
    path = tmp_path / "evaluation.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    service.index = ev_index.load(path, known_measures=MEASURES)
    result = service.compute(Period.day(DAY), service.now(), only=["CO-SC-001"]).results["CO-SC-001"]
    flat = result.scored.flat()
    assert flat["response.arrival.on_time"] == 100.0
    assert flat["response"] == (100 * 50 + 0 * 30 + 80 * 20) / 100 == 66.0
    assert result.score == round((66 * 40 + 62.5 * 20 + 0 * 20 + 100 * 10 + 100 * 15) / 105, 2) == 60.86


def test_eval005_every_leafs_records_add_up_to_its_reading(service: EvaluationService) -> None:
    period = Period.day(DAY)
    evaluation = service.compute(period, service.now(), only=["CO-SC-001", "GW-SC-001", "PS-01"])
    checked = 0
    for subject_id, result in evaluation.results.items():
        subject = service.subject(subject_id)
        assert subject is not None
        basis = service.basis(subject, period)
        for name, measure in MEASURES.items():
            records = measure.records(basis)
            reading = result.readings[name]
            if name in ("instruction_breaches", "repeat_incidents", "grid_task_breaches"):
                assert sum(r["count"] for r in records) == (reading.numerator or 0), (subject_id, name)
            elif name == "grid_records_per_day":
                assert len(records) == reading.numerator, subject_id
            elif name == "time_in_community":
                assert [r["id"] for r in records] == sorted(basis.presence), subject_id
            else:
                counted = "on_time" if name == "lead_on_time" else "met"  # the same leads, judged on the hour
                assert (sum(1 for r in records if r[counted]), len(records)) == (
                    reading.numerator, reading.denominator), (subject_id, name)
            checked += 1
    assert checked == 3 * len(MEASURES)
    # The records name what they are: the officer's late arrival is I2, and its deadline and arrival are given.
    officer = service.subject("CO-SC-001")
    assert officer is not None
    arrivals = MEASURES["arrival_on_time"].records(service.basis(officer, period))
    assert [(r["id"], r["met"], r["at"] - r["from"]) for r in arrivals] == [
        ("I1", True, timedelta(minutes=4)), ("I2", False, timedelta(minutes=20))]


@pytest.mark.time_machine("2026-12-02T09:00:00+08:00", tick=False)
def test_eval006_an_ended_month_is_kept_and_reproducible_from_the_record(service: EvaluationService,
                                                                         engine: Engine) -> None:
    service.now = lambda: datetime(2026, 12, 2, 1, tzinfo=UTC)
    november = Period.month(2026, 11)
    kept = service.evaluate(november)
    assert kept.kept_at == service.now()
    with engine.connect() as conn:
        stored = conn.execute(select(evaluation_scores.c.subject_id, evaluation_scores.c.score)
                              .where(evaluation_scores.c.period_key == "month:2026-11")).all()
    assert len(stored) == len(kept.results) == len(service.roster) + 12
    # A month recomputed from the record gives the same readings and scores as were kept.
    again = service.recompute(november)
    for subject_id, result in kept.results.items():
        assert values(again.results[subject_id]) == values(result), subject_id
        assert again.results[subject_id].score == result.score
    # Something filed late for November changes what the record gives, not what was kept.
    with engine.begin() as conn:
        conn.execute(insert(incidents).values(
            event_id="LATE-1", stream_id="1-0", reported_at=bj(DAY, 11), ingested_at=bj(DAY, 11), lon=112.4,
            lat=39.3, grid=G1, category="theft", priority=2, address="G街", description="", caller=None, source="110",
            status="closed"))
    assert values(service.evaluate(november).results["CO-SC-001"]) == values(kept.results["CO-SC-001"])
    # G1's November: incidents 1–3, 10–13 and 20, all complete, and now the late one without a description.
    assert service.recompute(november).results["CO-SC-001"].readings["completeness"] == Reading(8 / 9, 8, 9)
    # The trend reads the kept month and computes the running one.
    trend = dict((p.local_label(), s) for p, s in service.trend("CO-SC-001"))
    assert len(trend) == 6 and list(trend.values())[-2] == kept.results["CO-SC-001"].score
    assert list(trend.values())[:4] == [None] * 4  # July to October: before the record's first entry, not zeros


@pytest.mark.time_machine("2026-12-01T09:00:00+08:00", tick=False)
def test_eval009_the_monthly_report_carries_the_stations_league_and_keeps_the_month(
        service: EvaluationService, engine: Engine, grids: GridIndex) -> None:
    service.now = lambda: datetime(2026, 12, 1, 1, tzinfo=UTC)
    builder = ReportBuilder(engine, grids, clock=service.now, evaluation=service)
    report = builder.build(ReportKind.MONTHLY, "2026-11", "zh-CN")
    table = report.tables["evaluation"]
    assert [name for name, _ in table.columns[:3]] == ["report.col.rank", "report.col.station", "evaluation.score"]
    assert len(table.rows) == 12
    by_station = {row[1]: row for row in table.rows}
    november = service.evaluate(Period.month(2026, 11))
    assert november.kept_at == service.now()  # kept when the report asked for it
    assert by_station["PS-01"][2] == november.results["PS-01"].score is not None
    assert table.rows[0][0] == 1 and table.rows[0][2] == max(
        r.score for r in november.results.values() if r.subject.kind is SubjectKind.STATION and r.score is not None)
    assert "社区警务考评指数" in report_html(report)


def test_eval007_who_sees_whose_scores(service: EvaluationService) -> None:
    officer, other_station = service.subject("CO-SC-001"), service.subject("PS-02")
    own_station, worker_elsewhere = service.subject("PS-01"), service.roster.people(Post.GRID_WORKER, "PS-03")[0]
    assert officer and other_station and own_station
    elsewhere = service.subject(worker_elsewhere.person_id)
    assert elsewhere is not None
    chief = Scope(everyone=True, stations=True)
    station_chief = Scope(station="PS-01", stations=True)
    person = Scope(own=service.own([G1], Post.COMMUNITY_OFFICER))
    screen = Scope(stations=True)
    assert person.own == {"CO-SC-001"}
    table = {
        "chief": (chief, [True, True, True, True]),
        "station chief": (station_chief, [True, True, True, False]),
        "the officer": (person, [True, False, False, False]),
        "the big screen": (screen, [False, True, True, False]),
    }
    for who, (scope, expected) in table.items():
        assert [scope.sees(s) for s in (officer, other_station, own_station, elsewhere)] == expected, who
    day = service.compute(Period.day(DAY), service.now())
    assert [r.subject.kind for _, r in day.league(SubjectKind.COMMUNITY_OFFICER, screen)] == []
    league = day.league(SubjectKind.COMMUNITY_OFFICER, station_chief)
    assert league and {r.subject.station for _, r in league} == {"PS-01"}
    scored = [(rank, r.score) for rank, r in league if r.score is not None]
    assert [score for _, score in scored] == sorted((score for _, score in scored), reverse=True)
    # Competition ranking: equal scores share a place, the next one is counted after them.
    for place, (rank, score) in enumerate(scored, start=1):
        earlier = [s for _, s in scored[:place - 1]]
        assert rank == (1 + sum(1 for s in earlier if s != score)), (place, rank, score)
    assert all(rank is None for rank, r in league if r.score is None)


# -- the pages, as each role meets them ---------------------------------------------------------------------------

@pytest.fixture
def app(settings: Settings) -> Any:
    built = create_app(settings)
    insert_day(built.engine, G1, other_station_grid(built.grids))
    yield built
    built.stop()


def signed_in(app: PinganApp, role: Role, **account: Any) -> tuple[FlaskClient, str]:
    client = app.server.test_client()
    username = make_user(app, role, **account)
    sign_in_client(client, username)
    return client, username


def refusals(app: PinganApp, username: str) -> list[tuple[str, str]]:
    with app.engine.connect() as conn:
        return [(row.action, row.target) for row in conn.execute(
            select(audit_log.c.action, audit_log.c.target).where(audit_log.c.actor == username,
                                                                  audit_log.c.outcome == "refused"))]


def _hrefs(component: Any) -> list[str]:
    """Every link in a Dash layout."""
    if isinstance(component, list):
        return [href for child in component for href in _hrefs(child)]
    if not isinstance(component, dict):
        return []
    props = component.get("props", {})
    return ([props["href"]] if "href" in props else []) + _hrefs(props.get("children"))


def test_eval008_each_role_meets_the_pages_it_may_see(app: PinganApp) -> None:
    query = f"?period=day&key={DAY.isoformat()}"
    chief, _ = signed_in(app, Role.CHIEF)
    page = chief.get(f"/evaluation{query}").get_data(as_text=True)
    assert 'id="evaluation-stations"' in page and 'data-subject="PS-01"' in page
    assert 'data-subject="CO-SC-001"' in page and page.count("data-subject=\"CO-") == len(
        app.evaluation.roster.people(Post.COMMUNITY_OFFICER))
    drill = chief.get(f"/evaluation/CO-SC-001{query}").get_data(as_text=True)
    # Without positions kept, time in community is not scored: (16·20 + 62.5·20 + 0·20 + 100·10) / 70.
    assert 'data-figure="score"' in drill and ">36.7<" in drill
    leaf = chief.get(f"/evaluation/CO-SC-001/response.arrival.on_time{query}").get_data(as_text=True)
    assert 'data-record="I1"' in leaf and 'data-record="I2"' in leaf and 'data-count="2"' in leaf
    # The same leaf over the calendar week (Monday to Sunday) and the month holding the day: I5 of the Monday too.
    for period, key, label in (("week", DAY.isoformat(), "2026-11-23 – 2026-11-29"),
                               ("month", "2026-11", "2026-11-01 – 2026-11-30")):
        wider = chief.get(f"/evaluation/CO-SC-001/response.arrival.on_time?period={period}&key={key}")
        assert label in wider.get_data(as_text=True) and 'data-count="3"' in wider.get_data(as_text=True), period
    assert chief.get("/evaluation?period=month&key=2026-13").status_code == 404  # no such month

    # A community officer bound to G1 is sent to their own page and may open their leaves, nobody else's.
    officer, officer_name = signed_in(app, Role.STATION_OFFICER, station="PS-01", grids=(G1,))
    response = officer.get(f"/evaluation{query}")
    assert response.status_code == 302 and response.location.endswith(f"/evaluation/CO-SC-001{query}")
    assert officer.get(f"/evaluation/CO-SC-001/response.arrival.on_time{query}").status_code == 200
    assert officer.get(f"/evaluation/CO-SC-002{query}").status_code == 404
    assert officer.get(f"/evaluation/PS-01{query}").status_code == 404
    assert ("evaluation.view", "CO-SC-002") in refusals(app, officer_name)

    # A grid worker: their own as a grid worker, not the officer of the same grid.
    worker, _ = signed_in(app, Role.GRID_WORKER, grids=(G1,))
    assert worker.get(f"/evaluation{query}").location.endswith(f"/evaluation/GW-SC-001{query}")
    phone = worker.get("/m/_dash-layout").get_json()  # reached from their phone page
    assert {"/duties", "/evaluation"} <= set(_hrefs(phone))
    assert worker.get(f"/evaluation/CO-SC-001{query}").status_code == 404

    # A station chief: their station's people and every station; another station's officer is not theirs.
    station_chief, _ = signed_in(app, Role.STATION_CHIEF, station="PS-01")
    page = station_chief.get(f"/evaluation{query}").get_data(as_text=True)
    assert 'data-subject="CO-SC-001"' in page and 'data-subject="PS-02"' in page
    other = next(p for p in app.evaluation.roster.people(Post.COMMUNITY_OFFICER) if p.station != "PS-01")
    assert f'data-subject="{other.person_id}"' not in page
    assert station_chief.get(f"/evaluation/{other.person_id}{query}").status_code == 404

    # The big screen: stations only.
    screen, _ = signed_in(app, Role.SCREEN)
    page = screen.get(f"/evaluation{query}").get_data(as_text=True)
    assert 'data-subject="PS-01"' in page and 'id="evaluation-people"' not in page
    assert screen.get(f"/evaluation/CO-SC-001{query}").status_code == 404

    # Roles without the index are refused at the door.
    for role in (Role.DUTY_OFFICER, Role.ADMIN, Role.REVISIT_CLERK, Role.VOLUNTEER, Role.MEDIATOR):
        client, name = signed_in(app, role)
        assert client.get(f"/evaluation{query}").status_code == 403, role
        assert client.get(f"/evaluation/CO-SC-001{query}").status_code == 403, role
        assert refusals(app, name), role


def test_eval010_the_roster_names_each_grid_teams_people_once(grids: GridIndex) -> None:
    roster = Roster(grids)
    for post in Post:
        people = roster.people(post)
        assert sum(len(p.grids) for p in people) == len(grids) == 863  # every grid has one, once
        for code in grids.codes.tolist():
            person, grid = roster.of_grid(code, post), grids.get(code)
            assert person is not None and grid is not None and code in person.grids
            assert (person.station, person.name_zh) == (grid.station, getattr(grid, f"{_FIELD[post]}_zh"))
        # One name in two grids of a station is one person covering both; their id is their first grid's.
        shared = [p for p in people if len(p.grids) > 1]
        assert shared and all(p.person_id.endswith(p.grids[0]) for p in shared)
    assert roster.get("CO-SC-001") == roster.of_grid(G1, Post.COMMUNITY_OFFICER)
    assert roster.of_grids([G1, "SC-002", G1], Post.GRID_WORKER) == [roster.of_grid(g, Post.GRID_WORKER)
                                                                      for g in (G1, "SC-002")]
    # A community officer is a station officer bound to their community's grids: judged on them, no task steps.
    officer = Viewer("o", Role.STATION_OFFICER, "s", station="PS-01", grids=frozenset({G1}))
    assert not officer.works_grid(G1) and not officer.takes_steps_of({"grid": G1})


_FIELD = {Post.COMMUNITY_OFFICER: "officer", Post.GRID_WORKER: "worker"}
