"""Addresses as callers type them: one written form per place, and one key per household.

A family calls from different phones and writes the flat differently each time ("康乐小区3号楼2单元501室",
"开发路康乐小区3栋2单元501", "康乐小区 3-2-501", full-width digits, Chinese numerals). The early-warning
rules must see one household there, so this module folds every such variant to one canonical text:
building ``N号楼``, unit ``N单元``, room ``N室``, without the district's own prefixes, spaces or punctuation.

Choices (the tests pin them):

- "3号楼501" (no unit) stays building 3 room 501 with no unit: it does **not** match "3号楼2单元501".
  Every unit of a building has a room 501, so guessing the unit could merge two families; the same
  number calling from both forms still links them (risk.rules.household_groups).
- "N楼" means a building only when a unit follows ("3楼2单元"); alone it is as likely a floor.
- "N门" means a unit only right after a building ("3号楼2门"); "3号门" or "北门" is a gate.
- Bare "山西" / "朔州" / "朔城" are prefixes only when no place word follows: "朔城路" is a road.
- A dash between numbers that is no building-unit-room form is a sub-number: "民福街12-3号" is
  "民福街12之3号", not "民福街123号".
- Without a room an address names no single flat (a street number, a village house, a whole building):
  its household key is the whole normalised address, so only the same place written alike matches.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# -- the pieces of an address -----------------------------------------------------------------

# What a compound (the residents' own place) is called; longer names first so "家属院" wins over "院".
COMPOUND_SUFFIXES = ("家属院", "新村", "小区", "花园", "家园", "公寓", "大厦", "社区", "宿舍", "苑", "院", "村")
_SUFFIX = "|".join(COMPOUND_SUFFIXES)

# Dashes people type between building, unit and room (NFKC has already folded the full-width one).
_DASHES = re.compile(r"[—–―‐‑−~～_]")
# Everything else that is punctuation to a reader; "-" and "#" survive until they are read as notation.
_PUNCTUATION = re.compile(r"[,，。.、()（）\[\]【】{}<>《》「」『』\"'“”‘’:：;；!！?？·•/\\|*+=@&^%$`]")

# A bare "山西" / "朔州" / "朔城" followed by one of these is a name ("朔城路", "朔州大厦"), not a prefix.
_PLACE_WORD = "路街巷道区市省县镇乡村院苑站园场馆店厦寓舍校中小大新家公医宾酒饭广社学宿东西南北"
_PREFIXES = re.compile(
    rf"^(?:山西省|山西(?![{_PLACE_WORD}]))?(?:朔州市|朔州(?![{_PLACE_WORD}]))?(?:朔城区|朔城(?![{_PLACE_WORD}]))?")

# Chinese numerals: digit by digit ("五〇一") or positional ("二十一", "一百零一").
_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMERAL = re.compile(r"[〇零一二两三四五六七八九十百]+")
# A numeral is a building, unit or room number only next to such a word; elsewhere it is part of a name
# ("七一小区", "十里铺村", "五一路").
_NUMBER_BEFORE = ("号院楼", "号楼", "单元", "号", "栋", "幢", "座", "门", "室", "户", "层", "楼", "#", "-")
_NUMBER_AFTER = ("号楼", "单元", "栋", "幢", "座", "门", "层", "#")

_BUILDING = re.compile(r"(\d+|[A-Z])(?:号院楼|号楼|号?栋|号?幢|号?座|#楼?)")
_FLOOR_AS_BUILDING = re.compile(r"(\d+)楼(?=\d+(?:号?单元|门))")  # "3楼2单元": a building, since a unit follows
_UNIT = re.compile(r"(\d+)号?单元")
_GATE_AS_UNIT = re.compile(r"(号楼\d+)门")  # "3号楼2门": the second entrance is the second unit
_ROOM_WORD = r"(?:室|号房|号|户|房)"
_THREE_PART = re.compile(rf"(?<![\d-])(\d+)-(\d+)-(\d+){_ROOM_WORD}?(?![\d-])")  # 3-2-501: building-unit-room
_UNIT_ROOM = re.compile(rf"号楼(\d+)-(\d+){_ROOM_WORD}?(?![\d-])")  # 3号楼2-501: unit-room
_BUILDING_ROOM = re.compile(rf"({_SUFFIX})(\d+)-(\d+){_ROOM_WORD}?(?![\d-])")  # 康乐小区3-501: building-room
# A room: the number after a unit, building or floor, with or without 室/号/户 ("号楼5层" is a floor).
_ROOM = re.compile(rf"(单元|号楼|层)(\d+){_ROOM_WORD}?(?![\d号单楼层门室户房])")

# The household's parts in a normalised address.
_HOUSEHOLD = re.compile(r"(?:(\d+|[A-Z])号楼)?(?:(\d+)单元)?(?:\d+层)?(\d+)室")
# A road, street or township before the compound ("开发路", "民福街12号", "北旺庄街道", "沙塄河乡").
_LEADING_ROAD = re.compile(r"^.*?(?:街道|大街|大道|胡同|路|街|巷|道|乡|镇)(?:\d+号)?")
_NAMED_COMPOUND = re.compile(rf".+?(?:{_SUFFIX})")


@lru_cache(maxsize=65_536)
def normalise_address(address: str) -> str:
    """One written form for the ways people type the same address (see the module's docstring).

    Cached: the figures of every person's grids normalise the same month of addresses again.

    Normalising twice changes nothing: a pass can make new neighbours (a dash removed between "号楼" and a
    room number), so passes repeat until the text is stable (two for real addresses, one for most).
    """
    text = address or ""
    for _ in range(4):
        once = _normalise_once(text)
        if once == text:
            break
        text = once
    return text


def _normalise_once(address: str) -> str:
    # Full-width digits, letters and punctuation become half-width; letters compare upper-case.
    text = unicodedata.normalize("NFKC", address).upper()
    text = re.sub(r"\s+", "", text)
    text = _DASHES.sub("-", text)
    text = _PUNCTUATION.sub("", text)
    text = re.sub(r"(?<=\d)一(?=\d)", "-", text)  # "3一2一501": a dash typed with the IME
    while (stripped := _PREFIXES.sub("", text, count=1)) != text:  # "朔州市朔州…" written twice
        text = stripped
    text = _NUMERAL.sub(_numeral_in_position, text)
    text = _FLOOR_AS_BUILDING.sub(r"\1号楼", text)
    text = _BUILDING.sub(r"\1号楼", text)
    text = _GATE_AS_UNIT.sub(r"\1单元", text)
    text = _UNIT.sub(r"\1单元", text)
    text = _THREE_PART.sub(r"\1号楼\2单元\3室", text)
    text = _UNIT_ROOM.sub(r"号楼\1单元\2室", text)
    text = _BUILDING_ROOM.sub(r"\1\2号楼\3室", text)
    # A dash left between numbers is a sub-number ("民福街12-3号", also written "12之3号"): not 123.
    text = re.sub(r"(?<=\d)-(?=\d)", "之", text)
    # Any other dash or hash carries no meaning ("3号楼-501": building 3, room 501).
    text = text.replace("-", "").replace("#", "")
    return _ROOM.sub(r"\1\2室", text)


@lru_cache(maxsize=8192)  # the instant check sees the same few addresses batch after batch
def household_key(address: str) -> str:
    """A stable key for the household at ``address``: ``compound|building|unit|room`` (e.g. "康乐小区|3|2|501").

    Without a room the address names no single flat: the key is then the whole normalised address, so two
    identically written addresses (a village house, "沙塄河乡东村") still match. "" for an empty address.
    """
    text = normalise_address(address)
    if not text:
        return ""
    found = _HOUSEHOLD.search(text)
    if found is None:
        return text
    building, unit, room = (part or "" for part in found.groups())
    return f"{_compound(text[:found.start()])}|{building}|{unit}|{room}"


# A village's numbered house (the village, or a group of it, and the house number): one family's home.
_VILLAGE_HOUSE = re.compile(r"(?:村|组)\d+号(?:院)?$")


def names_one_household(key: str) -> bool:
    """Whether a :func:`household_key` names one household: a flat, or a village's numbered house. A town
    street number ("建设路95号") names a building or a whole compound where unrelated families live, so calls
    from it are one household only through their numbers (a month's simulation linked 10,000 unrelated calls
    to mediation cases at such addresses before this test)."""
    return "|" in key or bool(_VILLAGE_HOUSE.search(key))


def _compound(head: str) -> str:
    """The compound's own name: ``head`` without the road or township written before it, as long as what
    remains still names a compound ("开发路康乐小区" -> "康乐小区"; "东街社区" stays, "社区" names nothing)."""
    while True:
        road = _LEADING_ROAD.match(head)
        if road is None or road.end() == len(head):
            return head
        rest = head[road.end():]
        named = _NAMED_COMPOUND.match(rest)
        if named is None or named.group(0) in COMPOUND_SUFFIXES:
            return head
        head = rest


def _numeral_in_position(match: re.Match[str]) -> str:
    """A Chinese numeral as digits when it stands where a building, unit or room number stands."""
    text = match.string
    before, after = text[:match.start()], text[match.end():]
    if after.startswith(_NUMBER_BEFORE) or before.endswith(_NUMBER_AFTER):
        value = chinese_number(match.group(0))
        if value is not None:
            return str(value)
    return match.group(0)


def chinese_number(numeral: str) -> int | None:
    """ "五〇一" -> 501, "二十一" -> 21, "十二" -> 12, "一百零一" -> 101, "两" -> 2; None if not a number."""
    if "十" not in numeral and "百" not in numeral:
        if not numeral:
            return None
        return int("".join(str(_DIGITS[c]) for c in numeral))  # digit by digit, as rooms are read out
    total, digit = 0, 0
    for char in numeral:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char == "百":
            if total >= 100:
                return None  # "一百二百" is no number
            total += (digit or 1) * 100
            digit = 0
        else:  # 十
            if total % 100 >= 10:
                return None  # "十十" is no number
            total += (digit or 1) * 10
            digit = 0
    return total + digit
