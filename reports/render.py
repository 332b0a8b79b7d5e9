"""A report as a page, a PDF and CSV files.

The page and the PDF are one template (``templates/report.html``): the PDF is
that HTML printed by headless Chromium, so what a chief reads on screen is what
is filed. Charts are inline SVG drawn here (no script: the page works under the
strict CSP and prints the same). CSV files carry a UTF-8 byte-order mark so
spreadsheet programs on Chinese Windows read the text correctly.
"""

from __future__ import annotations

import base64
import csv
import io
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from PIL import Image

import clock
from i18n import text
from media.store import Variant, key_of, media_url
from reports.build import Report, Table
from settings import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "templates"
PRINT_CSS = PROJECT_ROOT / "assets" / "pages.css"
PDF_TIMEOUT_MS = 60_000
PRINTED_SIDE = 160  # a photo's copy in the PDF, in pixels (printed about 2.5 cm wide)


class PdfUnavailable(RuntimeError):
    """Chromium, which prints the PDF, is not installed here."""


def cell(value: Any, kind: str, report: Report) -> str:
    """A table value as the reader sees it (the CSV uses the same words)."""
    lang = report.language
    if value is None:
        return "–"
    if kind == "pct":
        return f"{value:.1%}"
    if kind in {"min", "score"}:
        return f"{value:.1f}"
    if kind == "time":
        return clock.local(value).strftime("%Y-%m-%d %H:%M")
    if kind == "bool":
        return text("report.yes" if value else "report.no", lang)
    if kind == "photos":
        return " ".join(value)  # the content hashes: each names its picture in the media store
    if kind in {"station", "grid"}:
        name = report.names.get(str(value), "")
        return name if kind == "station" else f"{value} {name}".strip()
    prefix = {"grade": "risk.legend.", "level": "lead.level.", "category": "category.", "state": "state.",
              "rule": "leads.rule.", "task_kind": "tasks.kind.", "outcome": "phone.outcome.",
              "mediation_kind": "mediation.kind.", "scenario": "scenario.", "verdict": "alert.verdict.",
              "source": "source."}.get(kind)
    return text(prefix + str(value), lang) if prefix else str(value)


def bar_chart(bars: list[int], labels: list[str] | None = None, compare: list[int] | None = None,
              targets: list[int] | None = None, width: int = 720, height: int = 180) -> Markup:
    """Bars (and a dotted comparison line, and dashed target lines at bar indices) as inline SVG."""
    left, bottom, top = 34, 22, 8
    plot_w, plot_h = width - left - 6, height - bottom - top
    peak = max([1, *bars, *(compare or [])])
    step = plot_w / max(1, len(bars))
    parts = [f'<svg class="report-chart" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
             f'role="img">']
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        parts.append(f'<line x1="{left}" x2="{width - 6}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{peak * fraction:g}</text>')
    for i, value in enumerate(bars):
        h = plot_h * value / peak
        parts.append(f'<rect x="{left + i * step + step * 0.1:.1f}" y="{top + plot_h - h:.1f}" '
                     f'width="{step * 0.8:.1f}" height="{h:.1f}" class="bar"><title>{value}</title></rect>')
    if compare:
        points = " ".join(f"{left + (i + 0.5) * step:.1f},{top + plot_h * (1 - v / peak):.1f}"
                          for i, v in enumerate(compare))
        parts.append(f'<polyline points="{points}" class="compare"/>')
    for index in targets or []:
        x = left + index * step
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" class="target"/>')
    every = max(1, len(bars) // 12)
    for i, label in enumerate(labels or [str(i) for i in range(len(bars))]):
        if i % every == 0:
            parts.append(f'<text x="{left + (i + 0.5) * step:.1f}" y="{height - 6}" text-anchor="middle">'
                         f'{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


# The standalone document (PDF, command line) outside Flask; the page goes through Flask's own.
ENVIRONMENT = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def page_photo(sha256: str) -> tuple[str, str]:
    """A photo on the report's page: (thumbnail, whole picture), served to whoever may see its task."""
    return media_url(Variant.THUMB, sha256), media_url(Variant.PHOTO, sha256)


def printed_photo(report: Report) -> Callable[[str], tuple[str, str]]:
    """Photos in the self-contained document: small copies of the thumbnails inside it (a weekly PDF
    with hundreds of results stays a few megabytes)."""
    def source(sha256: str) -> tuple[str, str]:
        thumb = report.media.get(key_of(Variant.THUMB, sha256)) if report.media else None
        if thumb is None:
            return "", ""
        with Image.open(io.BytesIO(thumb)) as image:
            image.thumbnail((PRINTED_SIDE, PRINTED_SIDE))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=70)
        return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii"), ""

    return source


def context(report: Report, photo: Callable[[str], tuple[str, str]] = page_photo) -> dict[str, Any]:
    """What ``templates/report.html`` needs besides the page frame (``photo``: a picture's sources)."""
    lang = report.language
    return {"report": report, "district": report.district, "cell": cell, "bar_chart": bar_chart, "photo": photo,
            "title": text(f"report.{report.kind.value}.title", lang),
            "period_label": report.indicators["period"]["label"],
            "generated": clock.local(report.generated_at).strftime("%Y-%m-%d %H:%M")}


def standalone_html(report: Report) -> str:
    """The report as one self-contained HTML document (its styles inline): what the PDF prints."""
    def t(key: str, **values: object) -> str:
        return text(key, report.language, **values)

    return ENVIRONMENT.get_template("report.html").render(
        **context(report, printed_photo(report)), t=t, lang=report.language, viewer=None, standalone=True,
        inline_css=Markup(PRINT_CSS.read_text(encoding="utf-8")))


def csv_bytes(table: Table, report: Report) -> bytes:
    """One table as CSV, headed in the report's language (UTF-8 with a byte-order mark)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([text(key, report.language) for key, _ in table.columns])
    for row in table.rows:
        writer.writerow([cell(value, kind, report) for value, (_, kind) in zip(row, table.columns, strict=True)])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise PdfUnavailable("PDF reports are printed by Chromium, which is not installed: run `make browser`")
    return path


def pdf_bytes(report: Report) -> bytes:
    """The report printed to an A4 PDF by headless Chromium (offline: the document is self-contained)."""
    return html_pdf(standalone_html(report))


def html_pdf(html: str, landscape: bool = True) -> bytes:
    """A self-contained page printed to an A4 PDF (a report; a mediation agreement, portrait)."""
    # Playwright's sync API refuses a thread that runs an asyncio loop: print on a thread of its own.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pdf") as pool:
        return pool.submit(_print, html, landscape).result()


def _print(html: str, landscape: bool = True) -> bytes:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_content(html, wait_until="load", timeout=PDF_TIMEOUT_MS)
            return page.pdf(format="A4", landscape=landscape, print_background=True, display_header_footer=True,
                            header_template="<span></span>",
                            footer_template='<div style="font-size:8px;width:100%;text-align:center">'
                                            '<span class="pageNumber"></span> / <span class="totalPages"></span></div>',
                            margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"})
        finally:
            browser.close()


def filename(report: Report, suffix: str) -> str:
    return f"pingan-{report.kind.value}-{report.key}{suffix}"
