"""Produce reports for any past period from the command line.

    python -m reports weekly                      # the latest complete weekly report
    python -m reports daily --date 2026-11-26     # one report
    python -m reports monthly --from 2026-01 --to 2026-10 --formats pdf,csv,json
    python -m reports daily --from 2026-11-01 --to 2026-11-26 --lang en --out var/reports

Each report is written as ``pingan-<kind>-<key>.pdf`` (and ``.html``, ``.json``, one
``-<table>.csv`` per table) under ``--out``. Runs of several reports show a progress bar.
The database is the one the dashboard uses (``DATABASE_URL``, else SQLite under ``VAR_DIR``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

import clock
from geo.index import GridIndex
from i18n import text
from media.store import open_store
from reports.build import Kind, ReportBuilder, keys_between, latest_key, period_for, to_json
from reports.render import PdfUnavailable, csv_bytes, filename, pdf_bytes, standalone_html
from settings import SUPPORTED_LANGUAGES, Settings
from store.db import database_url, make_engine

FORMATS = ("pdf", "html", "csv", "json")


def _day(value: str, kind: Kind) -> date:
    """A date, or for monthly reports a month (its first day)."""
    if kind is Kind.MONTHLY and len(value) == 7:
        value += "-01"
    return date.fromisoformat(value)


def parse(argv: list[str]) -> argparse.Namespace:
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(prog="python -m reports", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=[k.value for k in Kind])
    parser.add_argument("--date", help="the report's date (YYYY-MM-DD; YYYY-MM for monthly); default: the latest")
    parser.add_argument("--from", dest="first", help="first report of a range (with --to)")
    parser.add_argument("--to", dest="last", help="last report of a range (default: the latest)")
    parser.add_argument("--formats", default="pdf,csv", help=f"comma-separated, of {', '.join(FORMATS)}")
    parser.add_argument("--lang", default=settings.language, choices=SUPPORTED_LANGUAGES)
    parser.add_argument("--out", type=Path, default=settings.var_dir / "reports")
    args = parser.parse_args(argv)
    args.formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = set(args.formats) - set(FORMATS)
    if unknown:
        parser.error(f"unknown formats: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    kind = Kind(args.kind)
    settings = Settings.from_env()
    now = clock.now()
    try:
        if args.first:
            last = args.last or latest_key(kind, now)
            keys = keys_between(kind, _day(args.first, kind), _day(last, kind))
        else:
            keys = [args.date or latest_key(kind, now)]
        for key in keys:
            period_for(kind, key)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    builder = ReportBuilder(make_engine(database_url(settings.database_url, settings.var_dir)),
                            GridIndex(settings.data_dir), media=open_store(settings))
    args.out.mkdir(parents=True, exist_ok=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=len(keys) < 2, transient=False) as progress:
        task = progress.add_task(text(f"report.{kind.value}.title", args.lang), total=len(keys))
        for key in keys:
            progress.update(task, description=f"{text(f'report.{kind.value}.title', args.lang)} {key}")
            report = builder.build(kind, key, args.lang)
            if "pdf" in args.formats:
                try:
                    (args.out / filename(report, ".pdf")).write_bytes(pdf_bytes(report))
                except PdfUnavailable as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 3
            if "html" in args.formats:
                (args.out / filename(report, ".html")).write_text(standalone_html(report), encoding="utf-8")
            if "json" in args.formats:
                (args.out / filename(report, ".json")).write_text(to_json(report), encoding="utf-8")
            if "csv" in args.formats:
                for name, table in report.tables.items():
                    (args.out / filename(report, f"-{name}.csv")).write_bytes(csv_bytes(table, report))
            progress.advance(task)
    print(text("report.cli.done", args.lang, count=len(keys), folder=args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
