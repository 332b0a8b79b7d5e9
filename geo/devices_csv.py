"""The device registry to and from CSV: ``python -m geo.devices import FILE.csv`` / ``export FILE.csv``.

Import checks every row (docs/devices.md lists the columns and the checks), reports each bad row with its line
number and the reason, and upserts the good rows by ``device_id`` in one transaction: new devices are inserted,
changed ones updated, rows already as given are left alone (a repeated import writes nothing). By default a
bad row costs only itself; ``--strict`` imports nothing when any row is bad. The exit status is 0 when every row
was good, 1 when some were refused, 2 when the file itself cannot be read (missing column, unknown column).

Afterwards every process running the health monitor (the dashboard's) sees the registry's newest ``updated_at``
move and reloads it at its next check (about 5 s); a process that is not running reads it when it starts.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from geo.devices import COLUMNS, HEARTBEAT_INTERVAL_S, SITE_KINDS, Device, Written, astuple, load, upsert
from geo.index import GridIndex

REQUIRED = ("device_id", "type", "lon", "lat")
KINDS = tuple(HEARTBEAT_INTERVAL_S)  # camera, behaviour, smoke, throwing_camera, door
ID_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{1,32}$")  # the ingest contract's device_id (ingest/contract.py ShortId)
COMPOUND_PATTERN = ID_PATTERN
BBOX_MARGIN_DEG = 0.01  # about 1 km: a point beyond the district's box by more than this is a typo, not a device
HEARTBEAT_RANGE_S = (10, 86_400)
FLOOR_RANGE = (-10, 300)
NUMBER_RANGE = (1, 9_999)  # building and entrance numbers
CHECK_CHUNK = 5_000  # rows between progress updates while checking


class FileRefused(ValueError):
    """The file cannot be imported at all (its header): nothing was read into the registry."""


@dataclass(frozen=True)
class Refused:
    """One bad row: its line in the file (the header is line 1), its id as written, and why."""

    line: int
    device_id: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.device_id or '(no id)'}: {self.reason}"


@dataclass
class Checked:
    """A file read and checked: the good devices (with their lines) and the refused rows."""

    rows: int = 0
    good: list[Device] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # each good device's line
    refused: list[Refused] = field(default_factory=list)


@dataclass
class Imported:
    """What an import did."""

    checked: Checked
    written: Written | None  # None: nothing written (--strict with a bad row, or no good row)
    seconds: float


Advance = Callable[[int], object]


# -- checking ----------------------------------------------------------------------------------------------

def check(rows: Iterable[tuple[int, dict[str, str]]], grids: GridIndex, advance: Advance | None = None) -> Checked:
    """Check ``(line, row)`` pairs; every row ends up good or refused with its reason."""
    out = Checked()
    min_x, min_y, max_x, max_y = (float(v) for v in grids.frame.total_bounds)
    box = (min_x - BBOX_MARGIN_DEG, min_y - BBOX_MARGIN_DEG, max_x + BBOX_MARGIN_DEG, max_y + BBOX_MARGIN_DEG)
    first_line: dict[str, int] = {}
    pending: list[tuple[int, dict[str, Any]]] = []  # rows good so far: their grid is checked in one query
    for line, row in rows:
        out.rows += 1
        device_id = (row.get("device_id") or "").strip()
        try:
            values = _values(row, box, grids)
            if device_id in first_line:
                raise ValueError(f"duplicate: {device_id} is on line {first_line[device_id]} already")
        except ValueError as exc:
            out.refused.append(Refused(line, device_id, str(exc)))
        else:
            pending.append((line, values))
        if device_id and device_id not in first_line:
            first_line[device_id] = line
        if advance is not None and out.rows % CHECK_CHUNK == 0:
            advance(CHECK_CHUNK)
    if advance is not None:
        advance(out.rows % CHECK_CHUNK)
    # Where each device lies: one vectorised STRtree query for the whole file.
    located = grids.locate_codes([v["lon"] for _, v in pending], [v["lat"] for _, v in pending])
    for (line, values), code in zip(pending, located, strict=True):
        given = values["grid"]
        if code is None:
            out.refused.append(Refused(line, values["device_id"], "outside the district: no grid contains "
                                                                   f"({values['lon']}, {values['lat']})"))
        elif given and given != code:
            out.refused.append(Refused(line, values["device_id"], f"grid {given} given, but ({values['lon']}, "
                                                                   f"{values['lat']}) lies in {code}"))
        else:
            values["grid"] = code
            out.good.append(Device(**values))
            out.lines.append(line)
    out.refused.sort(key=lambda r: r.line)
    return out


def _values(row: dict[str, str], box: tuple[float, float, float, float], grids: GridIndex) -> dict[str, Any]:
    """One row's values, or ``ValueError`` with the first thing wrong with it."""
    if None in row:
        raise ValueError("more fields than the header has columns")
    text = {name: (row.get(name) or "").strip() for name in COLUMNS}
    device_id = text["device_id"]
    if not device_id:
        raise ValueError("device_id is empty")
    if not ID_PATTERN.match(device_id):
        raise ValueError(f"device_id {device_id!r}: 1-32 characters of A-Z a-z 0-9 . _ : -")
    kind = text["type"]
    if kind not in KINDS:
        raise ValueError(f"type {kind!r} is not one of {', '.join(KINDS)}")
    lon, lat = _number(text, "lon"), _number(text, "lat")
    if lon is None or lat is None:
        raise ValueError("lon and lat are required")
    if not (box[0] <= lon <= box[2] and box[1] <= lat <= box[3]):
        raise ValueError(f"({lon}, {lat}) is outside the district's bounding box "
                         f"(lon {box[0]:.3f}-{box[2]:.3f}, lat {box[1]:.3f}-{box[3]:.3f}): swapped or mistyped?")
    grid = text["grid"].upper()
    if grid and grids.get(grid) is None:
        raise ValueError(f"unknown grid {grid!r}")
    site_kind = text["site_kind"] or None
    if site_kind is not None and site_kind not in SITE_KINDS:
        raise ValueError(f"site_kind {site_kind!r} is not one of {', '.join(SITE_KINDS)}")
    compound = text["compound"] or None
    if compound is not None and not COMPOUND_PATTERN.match(compound):
        raise ValueError(f"compound {compound!r}: 1-32 characters of A-Z a-z 0-9 . _ : -")
    heartbeat_s = _integer(text, "heartbeat_s", HEARTBEAT_RANGE_S)
    return {
        "device_id": device_id, "type": kind, "lon": lon, "lat": lat, "grid": grid, "site_kind": site_kind,
        "compound": compound, "building": _integer(text, "building", NUMBER_RANGE),
        "floor": _integer(text, "floor", FLOOR_RANGE), "entrance": _integer(text, "entrance", NUMBER_RANGE),
        "heartbeat_s": heartbeat_s if heartbeat_s is not None else HEARTBEAT_INTERVAL_S[kind],
        "threshold": _number(text, "threshold"),
    }


def _number(text: dict[str, str], name: str) -> float | None:
    if not text[name]:
        return None
    try:
        value = float(text[name])
    except ValueError:
        raise ValueError(f"{name} {text[name]!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} {text[name]!r} is not a finite number")
    return value


def _integer(text: dict[str, str], name: str, bounds: tuple[int, int]) -> int | None:
    if not text[name]:
        return None
    try:
        value = int(text[name])
    except ValueError:
        raise ValueError(f"{name} {text[name]!r} is not a whole number") from None
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{name} {value} is outside {bounds[0]}-{bounds[1]}")
    return value


def read(stream: IO[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, row)`` pairs of a CSV file in the import's columns (``FileRefused`` for a bad header)."""
    reader = csv.DictReader(stream)
    header = [name.strip() for name in reader.fieldnames or []]
    if not header:
        raise FileRefused("the file is empty: it needs a header line naming its columns")
    missing = [name for name in REQUIRED if name not in header]
    unknown = [name for name in header if name not in COLUMNS]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if missing or unknown or duplicated:
        raise FileRefused("header: " + "; ".join(
            part for part in (f"missing {', '.join(missing)}" if missing else "",
                              f"unknown {', '.join(unknown)} (columns: {', '.join(COLUMNS)})" if unknown else "",
                              f"repeated {', '.join(duplicated)}" if duplicated else "") if part))
    reader.fieldnames = header
    for row in reader:
        yield reader.line_num, row


# -- import and export --------------------------------------------------------------------------------------

def import_file(engine: Engine, path: Path, grids: GridIndex, strict: bool = False,
                progress: Progress | None = None) -> Imported:
    """Check ``path`` and write its good rows (all or none with ``strict``)."""
    started = time.perf_counter()
    with _quiet_progress(progress) as bar:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            lines = sum(1 for _ in stream)
            stream.seek(0)
            checking = bar.add_task("checking", total=max(lines - 1, 0))
            checked = check(read(stream), grids, lambda n: bar.advance(checking, n))
            bar.update(checking, total=checked.rows, completed=checked.rows)
        writing = bar.add_task("writing", total=len(checked.good))
        if not checked.good or (strict and checked.refused):
            bar.update(writing, total=0)
            return Imported(checked, None, time.perf_counter() - started)
        written = upsert(engine, checked.good, advance=lambda n: bar.advance(writing, n))
    return Imported(checked, written, time.perf_counter() - started)


def export_rows(engine: Engine) -> Iterator[list[str]]:
    """The registry as CSV rows, header first, devices by id."""
    devices, _ = load(engine)
    yield list(COLUMNS)
    for device_id in sorted(devices):
        yield ["" if value is None else repr(value) if isinstance(value, float) else str(value)
               for value in astuple(devices[device_id])]


def export_file(engine: Engine, out: IO[str]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    rows = export_rows(engine)
    writer.writerow(next(rows))
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


@contextmanager
def _quiet_progress(progress: Progress | None) -> Iterator[Progress]:
    if progress is not None:
        yield progress
        return
    with Progress(disable=True) as bar:
        yield bar


def progress_bar(console: Console) -> Progress:
    return Progress(TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


def main(argv: list[str]) -> int:
    from settings import Settings
    from store.db import database_url, make_engine

    parser = argparse.ArgumentParser(prog="python -m geo.devices", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    importing = commands.add_parser("import", help="check a CSV file and upsert its good rows by device_id")
    importing.add_argument("file", type=Path)
    importing.add_argument("--strict", action="store_true", help="import nothing when any row is bad")
    importing.add_argument("--refused", type=Path, metavar="FILE",
                           help="also write the refused rows' line, id and reason to this CSV file")
    exporting = commands.add_parser("export", help="write the registry as CSV (- for standard output)")
    exporting.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    engine = make_engine(database_url(settings.database_url, settings.var_dir))
    console = Console(stderr=True, soft_wrap=True)  # a refused row stays on one line (grep, logs)
    try:
        if args.command == "export":
            if str(args.file) == "-":
                count = export_file(engine, sys.stdout)
            else:
                with args.file.open("w", encoding="utf-8", newline="") as out:
                    count = export_file(engine, out)
            console.print(f"exported {count:,} devices")
            return 0
        grids = GridIndex(settings.data_dir)
        try:
            with progress_bar(console) as bar:
                result = import_file(engine, args.file, grids, strict=args.strict, progress=bar)
        except FileRefused as exc:
            console.print(f"[red]{args.file}: nothing imported: {exc}[/red]")
            return 2
        checked = result.checked
        for refused in checked.refused[:50]:
            console.print(f"[red]refused[/red] {refused}", highlight=False, markup=True)
        if len(checked.refused) > 50:
            console.print(f"… and {len(checked.refused) - 50:,} more refused rows"
                          + ("" if args.refused else " (--refused FILE lists them all)"))
        if args.refused:
            with args.refused.open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(["line", "device_id", "reason"])
                writer.writerows([r.line, r.device_id, r.reason] for r in checked.refused)
        console.print(summary_line(result, args.strict))
        if result.written is not None and result.written.new + result.written.changed:
            console.print("running dashboard processes reload the registry at their next health check (about 5 s); "
                          "restart `python worker.py` consumers to have them hear new devices")
        return 1 if checked.refused else 0
    finally:
        engine.dispose()


def summary_line(result: Imported, strict: bool) -> str:
    checked = result.checked
    head = f"{checked.rows:,} rows: {len(checked.good):,} good, {len(checked.refused):,} refused"
    if result.written is None:
        why = "--strict and some rows were refused" if strict and checked.refused else "no good row"
        return f"{head}; nothing imported ({why}), {result.seconds:.1f} s"
    w = result.written
    return (f"{head}; imported: {w.new:,} new, {w.changed:,} changed, {w.unchanged:,} unchanged, "
            f"{result.seconds:.1f} s")


def to_csv(devices: Iterable[Device]) -> str:
    """Devices as import CSV text (tests, benchmarks)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for device in devices:
        writer.writerow(["" if v is None else v for v in astuple(device)])
    return out.getvalue()
