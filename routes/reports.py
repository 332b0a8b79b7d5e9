"""The reports: an index, each report as a page, its PDF and its tables as CSV (chiefs only)."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, redirect, render_template, request

import clock
from auth.guard import guard, security
from auth.roles import Permission, Viewer
from auth.web import template_values
from reports.build import Kind, Report, ReportBuilder, period_for, recent_keys
from reports.render import PdfUnavailable, context, csv_bytes, filename, pdf_bytes
from reports.schedule import ReportSchedule
from urls import URL, path

RECENT = {Kind.DAILY: 7, Kind.WEEKLY: 6, Kind.SUMMARY: 6, Kind.MONTHLY: 6}  # how many past reports the index lists


def blueprint(builder: ReportBuilder, language: str, schedule: ReportSchedule | None = None) -> Blueprint:
    routes = Blueprint("reports", __name__)

    def known(kind: str, key: str) -> Kind:
        """The report kind, if ``kind`` and ``key`` name a report at all (404 otherwise)."""
        try:
            report_kind = Kind(kind)
            period_for(report_kind, key)
        except ValueError:
            abort(404)
        return report_kind

    def build(kind: str, key: str) -> Report:
        return builder.build(known(kind, key), key, language)

    @routes.get(URL.REPORTS)
    @guard(Permission.VIEW_REPORTS, "report.index")
    def _index(viewer: Viewer) -> str:
        now = builder.clock()
        recent = {kind.value: recent_keys(kind, now, count) for kind, count in RECENT.items()}
        delivered = schedule.deliveries() if schedule is not None else []
        return render_template("reports.html", **template_values(language, viewer), recent=recent,
                               delivered=delivered, when=lambda iso: clock.local(
                                   datetime.fromisoformat(iso)).strftime("%Y-%m-%d %H:%M:%S"))

    @routes.get(URL.REPORTS_OPEN)
    @guard(Permission.VIEW_REPORTS, "report.view")
    def _open(viewer: Viewer) -> Response:
        """The index's form: any past period, by kind and date (or month)."""
        kind, key = request.args.get("kind", ""), request.args.get("key", "").strip()[:10]
        return redirect(path(URL.REPORT, kind=known(kind, key).value, key=key))

    @routes.get(URL.REPORT)
    @guard(Permission.VIEW_REPORTS, "report.view")
    def _page(kind: str, key: str, viewer: Viewer) -> str:
        report = build(kind, key)
        kind, key = report.kind.value, report.key
        return render_template("report.html", **template_values(language, viewer), **context(report),
                               standalone=False, pdf_url=path(URL.REPORT_PDF, kind=kind, key=key),
                               csv_url=lambda name: path(URL.REPORT_CSV, kind=kind, key=key, table=name))

    @routes.get(URL.REPORT_PDF)
    @guard(Permission.VIEW_REPORTS, "report.export")
    def _pdf(kind: str, key: str, viewer: Viewer) -> Response:
        report = build(kind, key)
        try:
            document = pdf_bytes(report)
        except PdfUnavailable as exc:
            return Response(str(exc), status=503, mimetype="text/plain")
        security().record(viewer, "report.export", target=f"{report.kind.value}/{report.key}", detail="pdf")
        return _download(document, "application/pdf", filename(report, ".pdf"))

    @routes.get(URL.REPORT_DELIVERED)
    @guard(Permission.VIEW_REPORTS, "report.export")
    def _delivered(kind: str, key: str, viewer: Viewer) -> Response:
        """The PDF exactly as it was delivered on schedule (not made again from today's record)."""
        document = schedule.pdf(known(kind, key), key) if schedule is not None else None
        if document is None:
            abort(404)
        security().record(viewer, "report.export", target=f"{kind}/{key}", detail="delivered pdf")
        return _download(document, "application/pdf", f"pingan-{kind}-{key}-delivered.pdf")

    @routes.get(URL.REPORT_CSV)
    @guard(Permission.VIEW_REPORTS, "report.export")
    def _csv(kind: str, key: str, table: str, viewer: Viewer) -> Response:
        report = build(kind, key)
        if table not in report.tables:
            abort(404)
        security().record(viewer, "report.export", target=f"{report.kind.value}/{report.key}", detail=table)
        return _download(csv_bytes(report.tables[table], report), "text/csv; charset=utf-8",
                         filename(report, f"-{table}.csv"))

    return routes


def _download(body: bytes, mimetype: str, name: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
