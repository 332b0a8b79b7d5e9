"""Every URL the product serves, in one place.

Routes (Flask Blueprints under ``routes/`` and ``auth/``) register these rules, layouts and
templates link to them, and the page scripts receive the ones they call (:func:`for_scripts`).
Adding a page: a member here, a Blueprint route using it, a link where people find it, and the
access rules in ``auth/web.py`` (public, page, or map data).
"""

from __future__ import annotations

import re
from enum import StrEnum


class URL(StrEnum):
    """URL rules (``<name>`` marks a part filled by :func:`path`)."""

    HOME = "/"  # the command map (Dash)
    SCREEN = "/screen/"  # the command hall's wall (a second Dash app on the same server)
    PHONE = "/m/"  # a grid worker's tasks on their phone (a third Dash app)
    # Signing in and out.
    LOGIN = "/login"
    LOGOUT = "/logout"
    TOUCH = "/auth/touch"  # a person is still at the desk (the idle lock)
    KIOSK = "/kiosk/<token>"  # a big screen's sign-in link
    # Pages.
    ADMIN = "/admin"
    ADMIN_USERS = "/admin/users"
    ADMIN_USER = "/admin/users/<username>/<op>"
    ADMIN_KIOSK = "/admin/kiosk"
    ADMIN_KIOSK_REVOKE = "/admin/kiosk/<token_id>/revoke"
    AUDIT = "/audit"
    AUDIT_CSV = "/audit.csv"
    SENSORS = "/sensors"
    RISK_REVIEW = "/risk/review"
    REPORTS = "/reports"
    REPORTS_OPEN = "/reports/open"
    REPORT = "/reports/<kind>/<key>"
    REPORT_PDF = "/reports/<kind>/<key>/pdf"
    REPORT_CSV = "/reports/<kind>/<key>/<table>.csv"
    REPORT_DELIVERED = "/reports/<kind>/<key>/delivered.pdf"  # the PDF as it was delivered on schedule
    # The return-visit desk.
    REVISITS = "/revisits"
    REVISIT = "/revisits/<visit_id>"
    REVISIT_CALL = "/revisits/<visit_id>/call"
    REVISITS_ADD = "/revisits/add"
    REVISITS_DRAW = "/revisits/draw"
    # Supervision: late items escalated, and their responses.
    SUPERVISION = "/supervision"
    SUPERVISION_RESPOND = "/supervision/<escalation_id>/respond"
    NOTICES = "/supervision/notices"  # rectification notices: the list, the form (POST: issue), a quarter's review
    NOTICE = "/supervision/notices/<notice_id>"
    NOTICE_REPORT = "/supervision/notices/<notice_id>/report"  # the station's progress or closing report
    # The mediation centre: its cases (a mediator's own), the triage form, each case and its acts, the agreement as a
    # PDF, and the public application form (no account).
    MEDIATION = "/mediation"
    MEDIATION_NEW = "/mediation/new"  # the triage form (?incident= or ?lead= from the dispatch panel); POST: open
    MEDIATION_CASE = "/mediation/cases/<case_id>"
    MEDIATION_ACT = "/mediation/cases/<case_id>/<act>"  # POST: triage, assign, contact, session, fulfilment, ...
    MEDIATION_PARTIES = "/mediation/cases/<case_id>/parties"  # POST: the parties' numbers in full (audited)
    MEDIATION_AGREEMENT = "/mediation/cases/<case_id>/agreement.pdf"
    MEDIATION_APPLY = "/mediation/apply"
    # The core task list: the day's completion table per centre and person, and ticking a manual duty done.
    DUTIES = "/duties"
    DUTY_TICK = "/duties/tick"
    # Grid workers' photos: a phone sends one for its task; pages show them (variant: photo / thumb).
    TASK_PHOTOS = "/m/tasks/<task_id>/photos"
    MEDIA = "/media/<variant>/<name>"
    MEDIA_OTHER = "/media/<path:rest>"  # anything else under /media/: no picture (not the hall's page)
    # Live video: a camera a viewer may watch (its stream's mountpoint), the cameras near a place, the gateway's
    # signalling relayed through the dashboard (checked per request: video/gate.py), and the gateway's page library.
    VIDEO_CAMERA = "/video/cameras/<device_id>"
    VIDEO_NEAR = "/video/near"
    VIDEO_GATEWAY = "/video/janus"
    VIDEO_GATEWAY_PATH = "/video/janus/<path:rest>"
    VIDEO_LIBRARY = "/video/lib/<name>"
    # The evaluation index: league tables, a subject's drill-down (score -> leaves), a leaf's records.
    EVALUATION = "/evaluation"
    EVALUATION_SUBJECT = "/evaluation/<subject_id>"
    EVALUATION_LEAF = "/evaluation/<subject_id>/<leaf_id>"
    # The push protocol (pages subscribe and acknowledge over HTTP; see push/hub.py).
    LIVE_SUBSCRIBE = "/live/subscribe"
    LIVE_ACK = "/live/ack"
    # Geometry and map data, loaded once by URL.
    GRIDS = "/geo/grids.geojson"
    STATIONS = "/geo/stations.geojson"
    DISTRICT = "/geo/district.geojson"
    GRID_LABELS = "/geo/grid-labels.geojson"
    COMPOUNDS = "/geo/compounds.geojson"
    DENSITY = "/risk/density.geojson"
    # The device layer: what one viewport needs at its zoom (?bbox=w,s,e,n&zoom=z), clustered on the server.
    DEVICE_VIEW = "/map/devices"
    # Operations.
    HEALTHZ = "/healthz"
    LIVEZ = "/livez"  # the process answers (the proxy's health check); /healthz: every part, for monitoring
    METRICS = "/metrics"


# The map's data, loaded by URL (geometry, compounds, the density points; the device layer per viewport).
MAP_DATA = (URL.GRIDS, URL.STATIONS, URL.DISTRICT, URL.GRID_LABELS, URL.COMPOUNDS, URL.DENSITY, URL.DEVICE_VIEW)
# Served without a session: code bundles (no data in them), the sign-in page and the operations endpoints.
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/kiosk/", f"{URL.SCREEN}assets/",
                   f"{URL.SCREEN}_dash-component-suites/", f"{URL.PHONE}assets/", f"{URL.PHONE}_dash-component-suites/")
PUBLIC_PATHS = frozenset({URL.LOGIN, URL.HEALTHZ, URL.LIVEZ, URL.METRICS, "/_favicon.ico", URL.MEDIATION_APPLY})
# Pages a browser opens: a visitor without a session is sent to sign in (not answered 401).
PAGES = frozenset({URL.HOME, URL.ADMIN, URL.AUDIT, URL.SENSORS, URL.RISK_REVIEW, URL.SCREEN, URL.REPORTS, URL.PHONE,
                   URL.REVISITS, URL.SUPERVISION, URL.MEDIATION, URL.DUTIES, URL.EVALUATION})
# Requests that show a person is at the desk (acknowledging pushed batches is the page's own doing).
ACTIVITY = frozenset({URL.HOME, "/_dash-update-component", URL.TOUCH, URL.PHONE, f"{URL.PHONE}_dash-update-component"})
# What a role without the map may still reach (administrators, the return-visit desk, the mediation centre, the task
# list); each page's own guard decides who of them.
NOT_MAP_PREFIXES = (URL.ADMIN, URL.AUDIT, URL.LOGOUT, URL.TOUCH, URL.REVISITS, URL.MEDIATION, URL.DUTIES,
                    URL.EVALUATION)
# What a grid worker reaches besides: their phone page and the push protocol it follows.
MEDIA_PREFIX = "/media/"
PHONE_PREFIXES = (URL.PHONE, URL.LIVE_SUBSCRIBE, URL.LIVE_ACK, MEDIA_PREFIX)

_PART = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def path(url: URL, **parts: str) -> str:
    """``url`` with its ``<parts>`` filled: ``path(URL.REPORT, kind="daily", key="…")``."""
    def fill(match: re.Match[str]) -> str:
        return str(parts.pop(match.group(1)))

    filled = _PART.sub(fill, url.value)
    if parts:
        raise ValueError(f"{url.name} has no part {sorted(parts)}")
    return filled


def for_scripts() -> dict[str, str]:
    """The URLs the page scripts call, by the names they use."""
    return {"login": URL.LOGIN, "touch": URL.TOUCH, "subscribe": URL.LIVE_SUBSCRIBE, "ack": URL.LIVE_ACK,
            "taskPhotos": URL.TASK_PHOTOS, "media": URL.MEDIA, "supervision": URL.SUPERVISION,
            "report": URL.REPORT, "mediationNew": URL.MEDIATION_NEW, "videoCamera": URL.VIDEO_CAMERA,
            "videoNear": URL.VIDEO_NEAR, "videoGateway": URL.VIDEO_GATEWAY, "videoLibrary": URL.VIDEO_LIBRARY,
            "reportDelivered": URL.REPORT_DELIVERED, "reportPage": URL.REPORT}
