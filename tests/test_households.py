"""One household across different callers and differently written addresses (geo.address, family_repeat).

The address tests need neither Redis nor a database; the runs at the end (the daily run and the instant check
on the system of record) use the session's embedded Redis like tests/test_risk.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, event, select

from bus.outbox import OutboxRelay
from geo.address import chinese_number, household_key, names_one_household, normalise_address
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from risk.engine import RiskEngine
from risk.leads import LeadService
from risk.model import load_config, load_history, since_for
from risk.rules import Call, Context, household_findings, household_groups, run_rules
from store.db import incidents, leads

FLAT = "康乐小区|3|2|501"

# Ways callers have written building 3, unit 2, room 501 of 康乐小区 (on 开发路): one household, one key.
# A module-level constant so the team can list the variants covered (id -> address as typed).
SAME_FLAT_VARIANTS: dict[str, str] = {
    "district_prefix_road_and_room_word": "朔城区开发路康乐小区3号楼2单元501室",
    "province_city_district_and_dong": "山西省朔州市朔城区开发路康乐小区3栋2单元501",
    "dashes_with_a_space": "康乐小区 3-2-501",
    "dashes_with_room_word": "康乐小区3-2-501室",
    "full_width_digits": "康乐小区３号楼２单元５０１",
    "room_as_hao": "开发路康乐小区3号楼2单元501号",
    "chinese_numerals": "康乐小区三号楼二单元501室",
    "chinese_numerals_room_read_digit_by_digit": "康乐小区三号楼二单元五〇一",
    "zhuang": "康乐小区3幢2单元501",
    "hash_for_building": "康乐小区3#2单元501室",
    "city_prefix_and_room_as_hu": "朔州市康乐小区3号楼2单元501户",
    "men_for_unit": "康乐小区3号楼2门501",
    "full_width_dashes_and_spaces": "康乐小区　３－２－５０１",
    "em_dashes": "康乐小区3—2—501",
    "ime_yi_as_dash": "康乐小区3一2一501",
    "building_dash_unit_room": "康乐小区3号楼2-501",
    "lou_before_a_unit": "康乐小区3楼2单元501",
    "hao_dong_and_floor": "康乐小区3号栋2号单元5层501室",
    "punctuation": "山西省，朔州市，朔城区，开发路（康乐小区）3号楼、2单元、501室。",
    "street_number_before_compound": "民福街12号康乐小区3号楼2单元501",
    "bare_city_and_district_prefix": "朔州朔城区康乐小区3号楼2单元501室",
}

# Another household each time: the key must differ from FLAT's.
OTHER_HOUSEHOLDS: dict[str, str] = {
    "another_room": "康乐小区3号楼2单元502",
    "another_unit": "康乐小区3号楼1单元501",
    "another_building": "康乐小区4号楼2单元501",
    "another_compound": "康宁小区3号楼2单元501",
    "another_room_in_dashes": "康乐小区 3-2-502",
    "another_building_in_chinese": "康乐小区十三号楼二单元501室",
    # A choice (geo.address): without the unit it is building 3 room 501 of an unknown unit. Every unit has a
    # room 501, so the address alone does not link it; the same number calling from both forms does.
    "no_unit_written": "康乐小区3号楼501",
}


# -- normalised addresses and household keys (no Redis) --------------------------------

@pytest.mark.parametrize("address", SAME_FLAT_VARIANTS.values(), ids=SAME_FLAT_VARIANTS.keys())
def test_household001_every_way_of_writing_the_flat_has_one_key(address: str) -> None:
    assert household_key(address) == FLAT


@pytest.mark.parametrize("address", OTHER_HOUSEHOLDS.values(), ids=OTHER_HOUSEHOLDS.keys())
def test_household002_another_flat_has_another_key(address: str) -> None:
    assert household_key(address) not in ("", FLAT)


def test_household003_without_a_unit_building_and_room_still_match_each_other() -> None:
    assert household_key("康乐小区3号楼501") == household_key("开发路康乐小区3-501室") == "康乐小区|3||501"


NORMALISED_FORMS: dict[str, tuple[str, str]] = {
    "old_prefix_case": ("山西省朔州市朔城区 开发路，12号", "开发路12号"),  # what repeat_location always folded
    "dong": ("朔城区开发路康乐小区3栋2单元501", "开发路康乐小区3号楼2单元501室"),
    "dashes": ("康乐小区 3-2-501", "康乐小区3号楼2单元501室"),
    "no_unit": ("康乐小区3号楼501", "康乐小区3号楼501室"),
    "dash_before_room": ("康乐小区3号楼-501", "康乐小区3号楼501室"),
    "zuo": ("康乐小区B座1201", "康乐小区B号楼1201室"),
    "positional_numerals": ("康乐小区二十一号楼十二单元一百零一室", "康乐小区21号楼12单元101室"),
    "liang": ("康乐小区两单元", "康乐小区2单元"),
    "road_named_after_the_district": ("朔城路5号", "朔城路5号"),
    "city_then_road_named_after_the_city": ("朔州市朔州北路5号", "朔州北路5号"),
    "numerals_in_names": ("五一路七一小区", "五一路七一小区"),
    "sub_number": ("民福街12-3号", "民福街12之3号"),  # not 123
    "gate": ("康乐小区北门", "康乐小区北门"),  # not a unit
    "empty": ("", ""),
}


@pytest.mark.parametrize(("typed", "normalised"), NORMALISED_FORMS.values(), ids=NORMALISED_FORMS.keys())
def test_household004_normalised_forms(typed: str, normalised: str) -> None:
    assert normalise_address(typed) == normalised


@pytest.mark.parametrize(("numeral", "value"), [("十", 10), ("十二", 12), ("二十", 20), ("二十一", 21), ("两", 2),
                                                ("五〇一", 501), ("五零一", 501), ("一百零一", 101), ("三", 3)])
def test_household005_chinese_numerals(numeral: str, value: int) -> None:
    assert chinese_number(numeral) == value


def test_household006_without_a_room_the_whole_address_is_the_key() -> None:
    # A village house has no building or room: the same house written alike still matches.
    assert household_key("沙塄河乡东村") == household_key("山西省朔州市朔城区 沙塄河乡 东村") == "沙塄河乡东村"
    assert household_key("沙塄河乡东村") != household_key("沙塄河乡西村")
    assert household_key("朔城区开发路12号") == household_key("开发路，12号") == "开发路12号"
    assert household_key("") == household_key("   ") == household_key("，。") == ""


_FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {" ": "\u3000"}


@given(variant=st.sampled_from(sorted(SAME_FLAT_VARIANTS.values())), data=st.data())
def test_household007_spaces_and_full_width_forms_never_change_the_key(variant: str, data: st.DataObject) -> None:
    chars = list(variant)
    wide = data.draw(st.lists(st.booleans(), min_size=len(chars), max_size=len(chars)), label="full width")
    typed = [_FULL_WIDTH.get(c, c) if w else c for c, w in zip(chars, wide, strict=True)]
    for at in data.draw(st.lists(st.integers(0, len(typed)), max_size=6), label="spaces at"):
        typed.insert(at, data.draw(st.sampled_from([" ", "\u3000", "\t", "  "]), label="space"))
    assert household_key("".join(typed)) == FLAT


@given(st.lists(st.sampled_from([*"康乐小区号楼栋幢座单元门室户层#-—一二三十五〇两0123456789 AB路街村院",
                                 "号楼", "单元", "开发路", "山西省", "朔州市", "朔城区"]), max_size=14).map("".join))
def test_household008_normalising_twice_changes_nothing(text: str) -> None:
    once = normalise_address(text)
    assert normalise_address(once) == once


# -- grouping calls into households (no Redis) -----------------------------------------

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Beijing; every time below is relative to it
pytestmark = pytest.mark.time_machine(NOW, tick=False)  # and the product's clock is frozen there
GRID = "SC-048"
SEAT = (112.432, 39.331)
A, B, C = "13800000001", "13900000002", "13700000003"
X = SAME_FLAT_VARIANTS["district_prefix_road_and_room_word"]
Y = SAME_FLAT_VARIANTS["dashes_with_a_space"]
Z = SAME_FLAT_VARIANTS["chinese_numerals"]
NEXT_DOOR = OTHER_HOUSEHOLDS["another_room"]


def call(event_id: str, caller: str, address: str, hours_ago: float, category: str = "family_dispute") -> Call:
    return Call(event_id, NOW - timedelta(hours=hours_ago), GRID, category, caller, address)


def family_cfg() -> dict[str, Any]:
    return {**load_config()["rules"]["family_repeat"], "name": "family_repeat"}


def test_household009_number_and_address_links_are_followed_through() -> None:
    # A at X; B at the no-unit form (another key); A again at the no-unit form: one household through A.
    no_unit = OTHER_HOUSEHOLDS["no_unit_written"]
    calls = [call("F1", A, X, 50), call("F2", B, no_unit, 40), call("F3", A, no_unit, 30),
             call("F4", C, NEXT_DOOR, 20), call("F5", "", "", 10), call("F6", "", "", 5)]
    groups = sorted([c.event_id for c in group] for group in household_groups(calls))
    assert groups == [["F1", "F2", "F3"], ["F4"], ["F5"], ["F6"]]


def test_household010_two_numbers_at_two_ways_of_writing_the_flat_are_one_household() -> None:
    [finding] = household_findings(NOW, family_cfg(), [call("F1", A, X, 30), call("F2", B, Y, 2)])
    assert (finding.rule, finding.evidence, finding.facts["count"]) == ("family_repeat", ("F1", "F2"), 2)
    assert A not in finding.key and B not in finding.key and "康乐" not in finding.key  # no number, no address
    # The next flat, or another kind of call, is not the household's.
    assert household_findings(NOW, family_cfg(), [call("F1", A, X, 30), call("F2", B, NEXT_DOOR, 2)]) == []
    assert household_findings(NOW, family_cfg(), [call("F1", A, X, 30), call("F2", B, Y, 2, "noise")]) == []


def test_household010b_an_address_links_calls_within_one_grid_only() -> None:
    # A compound of the same name on another road, in another grid: the key alone would merge them.
    elsewhere = call("F2", B, Y, 2)._replace(grid="SC-088")
    assert household_findings(NOW, family_cfg(), [call("F1", A, X, 30), elsewhere]) == []
    # The same number still links them: a household is its phone as much as its address.
    assert len(household_findings(NOW, family_cfg(), [call("F1", A, X, 30), elsewhere._replace(caller=A)])) == 1


@pytest.mark.parametrize(("address", "one"), [
    ("康乐小区3号楼2单元501室", True), ("沙塄河乡东村5号", True), ("南榆林乡二组12号院", True),
    ("朔城区建设路95号", False), ("七里河路97号", False), ("康乐小区3号楼", False), ("沙塄河乡东村", False)])
def test_household010c_only_a_flat_or_a_village_house_names_one_household(address: str, one: bool) -> None:
    assert names_one_household(household_key(address)) is one


def test_household010d_a_town_street_number_links_calls_by_their_numbers_only() -> None:
    # A building on a street: two families calling from it are two households (three calls would be a lead).
    street = "朔城区建设路95号"
    assert household_findings(NOW, family_cfg(), [call("F1", A, street, 30), call("F2", B, street, 2)]) == []
    village = "沙塄河乡东村5号"
    assert len(household_findings(NOW, family_cfg(), [call("F1", A, village, 30), call("F2", B, village, 2)])) == 1


def test_household011_the_subject_does_not_depend_on_which_calls_a_run_saw() -> None:
    cfg = family_cfg()
    first = household_findings(NOW, cfg, [call("F1", A, X, 30), call("F2", B, Y, 2)])
    more = household_findings(NOW, cfg, [call("F0", C, Z, 60), call("F1", A, X, 30), call("F2", B, Y, 2)])
    assert [f.key for f in first] == [f.key for f in more]


# -- the daily run and the instant check (system of record, Redis) -----------------------

@pytest.fixture
def risk(engine: Engine, r: redis.Redis, grids: GridIndex, devices: DeviceRegistry) -> RiskEngine:
    relay = OutboxRelay(engine, r).relay
    return RiskEngine(engine, r, devices, LeadService(engine, grids, relay=relay, clock=lambda: NOW),
                      clock=lambda: NOW)


def row(event_id: str, caller: str, address: str, hours_ago: float, category: str = "family_dispute") -> dict[str, Any]:
    return {"event_id": event_id, "reported_at": NOW - timedelta(hours=hours_ago), "grid": GRID, "category": category,
            "priority": 2, "address": address, "caller": caller, "source": "110", "lon": SEAT[0], "lat": SEAT[1]}


def store(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(incidents.insert(), [{**r, "stream_id": "1-0", "ingested_at": r["reported_at"], "description": "",
                                           "status": "new"} for r in rows])


def family_leads(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        found = conn.execute(select(leads.c.dedupe_key, leads.c.evidence).where(leads.c.rule == "family_repeat")
                             .order_by(leads.c.dedupe_key)).mappings().all()
    return [{"key": f["dedupe_key"], "evidence": json.loads(f["evidence"])} for f in found]


@pytest.fixture
def incident_queries(engine: Engine) -> Iterator[list[str]]:
    """The statements that read the incidents table, as they run."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM incidents" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


@pytest.mark.time_machine(NOW, tick=False)
def test_household012_the_daily_run_makes_one_lead_for_two_numbers_at_one_flat(risk: RiskEngine,
                                                                                engine: Engine) -> None:
    # Three calls in a week from two numbers, each address written differently. By number alone, B's two
    # calls would warn without A's; as a household all three are the evidence.
    household = [row("FAM-1", A, X, 24 * 6), row("FAM-2", B, Y, 24 * 3), row("FAM-3", B, Z, 1)]
    next_door = [row("ND-1", C, NEXT_DOOR, 24 * 2), row("ND-2", "13600000004", "康乐小区3号楼1单元501", 5)]
    store(engine, household + next_door)
    risk.run()
    assert [lead["evidence"] for lead in family_leads(engine)] == [["FAM-1", "FAM-2", "FAM-3"]]
    assert risk.run().leads_created == 0  # the same household, the same day: no second lead


@pytest.mark.time_machine(NOW, tick=False)
def test_household013_calls_from_different_flats_make_no_lead(risk: RiskEngine, engine: Engine) -> None:
    store(engine, [row("F-1", A, X, 24 * 3), row("F-2", B, NEXT_DOOR, 24 * 2),
                   row("F-3", C, OTHER_HOUSEHOLDS["another_building"], 1)])
    risk.run()
    fresh = row("F-4", "13600000004", OTHER_HOUSEHOLDS["another_compound"], 0.5)
    store(engine, [fresh])
    assert risk.check_incidents([fresh]) == 0
    assert family_leads(engine) == []


@pytest.mark.time_machine(NOW, tick=False)
def test_household014_the_instant_check_knows_the_household_by_its_address(
    risk: RiskEngine, engine: Engine, incident_queries: list[str]
) -> None:
    # Two calls already kept (A at X, B at Y); now a third number calls from the flat, written a third way.
    store(engine, [row("FAM-1", A, X, 24 * 6), row("FAM-2", B, Y, 24 * 3), row("ND-1", C, NEXT_DOOR, 24 * 2)])
    fresh = row("FAM-3", "13600000004", Z, 0.5)
    store(engine, [fresh])
    incident_queries.clear()
    assert risk.check_incidents([fresh]) == 1
    assert len(incident_queries) <= 2  # it runs after every batch: the callers, and the grids' family disputes
    [lead] = family_leads(engine)
    assert lead["evidence"] == ["FAM-1", "FAM-2", "FAM-3"]
    # The daily run groups alike: the same dedupe key, so no second lead today.
    now_history = load_history(engine, since_for(NOW, load_config()))
    daily = [f for f in run_rules(Context(now_history, NOW), load_config()) if f.rule == "family_repeat"]
    assert [f.key for f in daily] == [lead["key"]]
    assert [f.evidence for f in daily] == [("FAM-1", "FAM-2", "FAM-3")]
    risk.run()
    assert family_leads(engine) == [lead]
    assert risk.check_incidents([fresh]) == 0  # the batch seen again: nothing new


@pytest.mark.time_machine(NOW, tick=False)
def test_household015_only_the_batchs_households_are_checked(risk: RiskEngine, engine: Engine) -> None:
    # A household that called twice yesterday in the same grid is the daily run's; a batch with another
    # household's first call does not warn about it.
    store(engine, [row("OLD-1", A, X, 30), row("OLD-2", B, Y, 26)])
    fresh = row("NEW-1", C, NEXT_DOOR, 0.5)
    store(engine, [fresh])
    assert risk.check_incidents([fresh]) == 0
    assert family_leads(engine) == []
