"""A grid worker's phone page (``/m/``): their grids' tasks, newest and most urgent first, for one hand.

A third Dash app on the same server, built for a 360×740 screen and a weak mobile network: no map
geometry, no charts. The tasks arrive through the same pushed batches as the hall's (the lens keeps
them to the worker's grids); assets/pingan_phone.js draws them and sends each step the worker takes
to one server callback (callbacks/phone.py).
"""

from __future__ import annotations

import json

from dash import dcc, html

from auth.roles import Permission, Viewer
from i18n import text
from layouts.ids import AuthID, PhoneID
from layouts.live import live_components
from layouts.shell import auth_config
from settings import Settings
from urls import URL


def phone_page(settings: Settings, viewer: Viewer | None = None,
               volunteers: dict[str, list[str]] | None = None) -> html.Div:
    """``volunteers``: a grid worker's grids and their volunteers, whom a task can be handed to."""
    lang = settings.language
    who = viewer.username if viewer else ""
    grids = "、".join(sorted(viewer.grids)) if viewer else ""
    return html.Div(id=PhoneID.ROOT, className="phone", lang=lang, children=[
        html.Header(className="phone-header", children=[
            html.H1(text("phone.title", lang)),
            html.Span(text("live.status.connecting", lang), id=PhoneID.STATUS, className="live-pill connecting"),
            html.Div(className="phone-who", children=[
                html.Span(text("phone.who", lang, user=who, grids=grids)),
                # A grid worker's own duties and scores are desk pages, readable on the phone (volunteers have none).
                *(html.A(text(label, lang), href=url, className="phone-link", id=f"phone-{label.split('.')[1]}")
                  for permission, label, url in ((Permission.VIEW_DUTIES, "nav.duties", URL.DUTIES),
                                                 (Permission.VIEW_EVALUATION, "nav.evaluation", URL.EVALUATION))
                  if viewer is not None and viewer.can(permission)),
                html.Button(text("nav.logout", lang), id=AuthID.LOGOUT, className="phone-logout", n_clicks=0),
            ]),
        ]),
        html.Div(id=PhoneID.MESSAGE, className="phone-message", role="status"),
        html.Ol(id=PhoneID.LIST, className="phone-tasks"),
        dcc.Store(id=PhoneID.ACTION),
        html.Div(id=PhoneID.VOLUNTEERS, hidden=True, **{"data-volunteers": json.dumps(volunteers or {})}),
        auth_config(settings, viewer),
        *live_components(settings, viewer),
    ])
