"""Reports: built from the record, printed to PDF whose figures are the indicators of the same period."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app import PinganApp, create_app
from gridwork.tasks import TaskKind, photos_of
from indicators.compute import DISTRICT
from reports.build import Kind, ReportBuilder, keys_between, latest_key, period_for
from reports.render import csv_bytes, pdf_bytes, standalone_html
from settings import PROJECT_ROOT, Settings
from store.db import audit_log
from testkit.accounts import make_user, sign_in_client
from testkit.photos import jpeg
from tests.indicator_data import AT, DAY, EXPECTED, bj, insert_day

pytestmark = pytest.mark.time_machine(AT, tick=False)  # the morning after the constructed day


@pytest.fixture
def app(settings: Settings) -> PinganApp:
    built = create_app(settings)
    yield built
    built.stop()


def grids_of_two_stations(app: PinganApp) -> tuple[str, str]:
    codes = [str(c) for c in app.grids.codes]
    return (next(c for c in codes if app.grids.get(c).station == "PS-01"),
            next(c for c in codes if app.grids.get(c).station == "PS-02"))


@pytest.fixture
def builder(app: PinganApp) -> ReportBuilder:
    insert_day(app.engine, *grids_of_two_stations(app))
    return ReportBuilder(app.engine, app.grids, clock=lambda: bj(DAY + timedelta(days=30), 12))


def pdf_text(document: bytes) -> str:
    reader = PdfReader(io.BytesIO(document))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_rep001_periods_of_the_three_reports() -> None:
    daily = period_for(Kind.DAILY, "2026-11-24")
    assert (daily.start, daily.end) == (bj(DAY - timedelta(days=1), 17), bj(DAY, 17))
    weekly = period_for(Kind.WEEKLY, "2026-11-27")  # a Friday: the seven days before it
    assert (weekly.start, weekly.end) == (bj(DAY - timedelta(days=4), 0), bj(DAY + timedelta(days=3), 0))
    monthly = period_for(Kind.MONTHLY, "2026-11")
    assert (monthly.start, monthly.end) == (bj(DAY.replace(day=1), 0), bj(DAY.replace(month=12, day=1), 0))
    with pytest.raises(ValueError):
        period_for(Kind.MONTHLY, "2026-13")
    assert latest_key(Kind.WEEKLY, bj(DAY, 12)) == "2026-11-20"  # the Friday before that Tuesday
    assert latest_key(Kind.DAILY, bj(DAY, 16, 59)) == "2026-11-23"
    assert latest_key(Kind.DAILY, bj(DAY, 17, 0)) == "2026-11-24"
    assert latest_key(Kind.MONTHLY, bj(DAY, 12)) == "2026-10"
    assert keys_between(Kind.WEEKLY, DAY, DAY + timedelta(days=14)) == ["2026-11-27", "2026-12-04"]
    assert keys_between(Kind.MONTHLY, DAY.replace(month=11), DAY.replace(year=2027, month=2)) == [
        "2026-11", "2026-12", "2027-01", "2027-02"]


def test_rep002_weekly_pdf_figures_match_the_indicators_of_the_week(builder: ReportBuilder) -> None:
    report = builder.build(Kind.WEEKLY, "2026-11-27", "en")
    district = report.district
    # The week holds the constructed day (and one incident the next night); the week before, its comparison.
    assert district["incidents"]["count"] == EXPECTED["incidents"] + 1
    assert district["incidents"]["comparison"] == EXPECTED["comparison"]
    text = pdf_text(pdf_bytes(report))
    assert "Ping'an Command · Weekly risk report" in text
    assert "Period: 2026-11-20 – 2026-11-26" in text
    figures = {
        "Incidents": str(district["incidents"]["count"]),
        "Repeat incidents": str(district["repeat"]["incidents"]),
        "Instructions issued": str(district["instructions"]["issued"]),
        "Instructions open at the end": str(district["instructions"]["open"]),
        "Dispatch to arrival (min, median)": f"{district['arrival']['median_min']:.1f}",
        "Arrivals on time": f"{district['arrival']['on_time']:.1%}",
        "Arrival to result (min, median)": f"{district['result']['median_min']:.1f}",
        "High-risk leads disposed": f"{district['leads']['disposal_rate']:.1%}",
        "Alerts verified within 1 min": f"{district['verification']['rate']:.1%}",
        "Incident data completeness": f"{district['completeness']['rate']:.1%}",
    }
    for label, value in figures.items():
        assert re.search(rf"^{re.escape(label)} {re.escape(value)}(?=\s|$)", text, re.M), (label, value)
    # …and those are worked out by hand: the week adds I5 (on scene in 3 of 5 minutes) and a complete record.
    assert (figures["Arrivals on time"], figures["High-risk leads disposed"]) == ("50.0%", "66.7%")
    assert figures["Incident data completeness"] == "71.4%"
    assert "朔城区A街1号" in text  # the top repeat location, as first written


def test_rep003_daily_report_lists_what_is_open_at_17(builder: ReportBuilder) -> None:
    report = builder.build(Kind.DAILY, "2026-11-24", "zh-CN")  # 23 Nov 17:00 to 24 Nov 17:00
    open_rows = report.tables["open_instructions"].rows
    assert [row[0] for row in open_rows] == ["I3"]  # I4 is issued at 23:50, after the report closed
    assert open_rows[0][-1] is True  # overdue: no result 15 minutes after arriving
    assert report.district["instructions"]["issued"] == 5  # I5 (the evening before), I1, I2, I3, I6
    html = standalone_html(report)
    assert "每日任务完成报表" in html and "17:00 时未结指令" in html
    assert "2026-11-23 17:00 – 2026-11-24 17:00" in html
    text = pdf_text(pdf_bytes(report))
    assert re.search(r"^下达指令 5\b", text, re.M)


def test_rep004_monthly_report_and_csv_tables(builder: ReportBuilder) -> None:
    report = builder.build(Kind.MONTHLY, "2026-11", "zh-CN")
    assert report.district["incidents"]["count"] == EXPECTED["incidents"] + EXPECTED["comparison"] + 1
    stations = report.tables["stations"]
    body = csv_bytes(stations, report)
    assert body.startswith("\ufeff".encode())  # spreadsheet programs read the Chinese text right
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:2] == ["派出所", "警情"]
    assert rows[1][0] == "全区" and int(rows[1][1]) == report.district["incidents"]["count"]
    by_station = {row[0]: row for row in rows[1:]}
    assert int(by_station["城东派出所"][1]) + int(by_station["城北派出所"][1]) == int(rows[1][1])
    assert len(rows) == 1 + 1 + 12  # the header, the district, twelve stations
    categories = dict(report.tables["categories"].rows)
    assert categories == {"theft": 4, "noise": 5, "fight": 2}


def test_rep005_reports_are_for_chiefs_and_their_exports_are_audited(app: PinganApp) -> None:
    insert_day(app.engine, *grids_of_two_stations(app))
    chief = app.server.test_client()
    sign_in_client(chief, make_user(app, "chief"))
    index = chief.get("/reports")
    assert index.status_code == 200 and "/reports/weekly/" in index.get_data(as_text=True)
    page = chief.get("/reports/daily/2026-11-24")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'data-figure="issued"><td>[^<]+</td><td>5</td>', html)
    assert 'href="/reports/daily/2026-11-24/pdf"' in html
    assert chief.get("/reports/open?kind=weekly&key=2026-11-27").headers["Location"] == "/reports/weekly/2026-11-27"
    assert chief.get("/reports/daily/not-a-date").status_code == 404
    assert chief.get("/reports/yearly/2026-11-24").status_code == 404
    download = chief.get("/reports/daily/2026-11-24/stations.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    pdf = chief.get("/reports/daily/2026-11-24/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    with app.engine.connect() as conn:
        exports = conn.execute(select(audit_log.c.detail).where(audit_log.c.action == "report.export")).scalars().all()
    assert sorted(exports) == ["pdf", "stations"]
    for role in ("station_officer", "duty_officer", "admin"):
        other = app.server.test_client()
        sign_in_client(other, make_user(app, role))
        assert other.get("/reports/daily/2026-11-24/stations.csv").status_code == 403


@pytest.mark.slow  # starts processes
def test_rep006_command_line_produces_any_past_period(settings: Settings, tmp_path: Path) -> None:
    app = create_app(settings)
    insert_day(app.engine, *grids_of_two_stations(app))
    app.stop()
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "reports", "daily", "--from", "2026-11-23", "--to", "2026-11-25",
         "--formats", "pdf,csv,json", "--lang", "en", "--out", str(out)],
        cwd=PROJECT_ROOT, env={"VAR_DIR": str(settings.var_dir), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "3 reports written" in done.stdout
    for key in ("2026-11-23", "2026-11-24", "2026-11-25"):
        assert (out / f"pingan-daily-{key}.pdf").read_bytes().startswith(b"%PDF")
        assert (out / f"pingan-daily-{key}-stations.csv").exists()
    kept = json.loads((out / "pingan-daily-2026-11-24.json").read_text(encoding="utf-8"))
    assert kept["indicators"]["scopes"][DISTRICT]["instructions"]["issued"] == 5
    bad = subprocess.run([sys.executable, "-m", "reports", "monthly", "--date", "2026-13"], cwd=PROJECT_ROOT,
                         env={"VAR_DIR": str(settings.var_dir), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "error" in bad.stderr


def test_rep007_the_grid_workers_results_come_with_their_photos(app: PinganApp, time_machine) -> None:  # type: ignore[no-untyped-def]
    """Photos are evidence: on the page (served as the task's), in the PDF (inside it) and in the CSV (hashes)."""
    time_machine.move_to(bj(DAY, 10))
    with app.engine.begin() as conn:
        task = app.tasks.create(conn, TaskKind.ALERT, "REP-PHOTO", "SC-021", "烟感报警", "duty", bj(DAY, 10))
    app.tasks.arrive(task["task_id"], "黄波", None)
    time_machine.move_to(bj(DAY, 10, 40))
    [sha] = photos_of(app.tasks.add_photo(task["task_id"], "黄波", jpeg("厨房")))
    app.tasks.report(task["task_id"], "黄波", "resolved", "灶台油烟，已提醒住户")
    time_machine.move_to(AT)
    builder = ReportBuilder(app.engine, app.grids, media=app.media)
    report = builder.build(Kind.DAILY, DAY.isoformat(), "zh-CN")
    [row] = report.tables["grid_results"].rows
    assert row[0] == task["task_id"] and row[-1] == [sha] and row[6] is True  # within the hour after arriving
    printed = standalone_html(report)
    assert "网格员处置结果及现场照片" in printed
    assert printed.count('class="report-photo" src="data:image/jpeg;base64,') == 1
    assert "/media/" not in printed  # the PDF's document needs no session to show its pictures
    chief = app.server.test_client()
    sign_in_client(chief, make_user(app, "chief"))
    page = chief.get(f"/reports/daily/{DAY.isoformat()}").get_data(as_text=True)
    assert f'src="/media/thumb/{sha}.jpg"' in page and f'href="/media/photo/{sha}.jpg"' in page
    assert chief.get(f"/media/thumb/{sha}.jpg").status_code == 200
    download = chief.get(f"/reports/daily/{DAY.isoformat()}/grid_results.csv").get_data(as_text=True)
    assert sha in download and "已处置" in download and "告警核查" in download
    assert "灶台油烟" in pdf_text(pdf_bytes(report))


def test_rep008_the_daily_report_keeps_each_camera_alert_s_snapshot_as_its_verdict_s_evidence(
    app: PinganApp, time_machine  # type: ignore[no-untyped-def]
) -> None:
    import base64

    from bus import keys
    from testkit.entries import sensor

    time_machine.move_to(bj(DAY, 10))
    consumer = app.services.consumer("rep")
    consumer.ensure_groups()
    app.redis.xadd(keys.SENSORS, sensor("REP-CAM-1", "BHV-001", scenario="fight",
                                        snapshot=base64.b64encode(jpeg("校门口")).decode()))
    app.redis.xadd(keys.SENSORS, sensor("REP-SMOKE-1", "SMK-01-1-03", scenario="smoke", value="0.3"))
    reply = app.redis.xreadgroup(keys.CONSUMER_GROUP, "rep", {keys.SENSORS: ">"}, count=10)
    consumer.process({stream: entries for stream, entries in reply})
    time_machine.move_to(bj(DAY, 10, 1))
    app.alerts.verify("REP-CAM-1", "dispatched", "duty-wang")
    app.alerts.verify("REP-SMOKE-1", "false_alarm", "duty-wang", "油烟")
    time_machine.move_to(AT)
    report = ReportBuilder(app.engine, app.grids, media=app.media).build(Kind.DAILY, DAY.isoformat(), "zh-CN")
    rows = {row[0]: row for row in report.tables["alert_verdicts"].rows}
    assert set(rows) == {"REP-CAM-1", "REP-SMOKE-1"}
    [sha] = rows["REP-CAM-1"][-1]
    assert rows["REP-SMOKE-1"][-1] == []  # a smoke sensor has no camera
    assert (rows["REP-CAM-1"][5], rows["REP-CAM-1"][6], rows["REP-CAM-1"][7]) == ("dispatched", "duty-wang", 60)
    printed = standalone_html(report)
    assert "感知告警核实结果及抓拍证据" in printed and "确认出警" in printed and "打架斗殴" in printed
    assert printed.count('class="report-photo" src="data:image/jpeg;base64,') == 1  # inside the PDF's document
    chief = app.server.test_client()
    sign_in_client(chief, make_user(app, "chief"))
    page = chief.get(f"/reports/daily/{DAY.isoformat()}").get_data(as_text=True)
    assert f'src="/media/thumb/{sha}.jpg"' in page
    assert chief.get(f"/media/photo/{sha}.jpg").status_code == 200
    assert sha in chief.get(f"/reports/daily/{DAY.isoformat()}/alert_verdicts.csv").get_data(as_text=True)
