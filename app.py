"""Ping'an Command: the app factory and the development entry point.

``create_app(settings)`` wires one Flask server, the Dash page on it, the
geometry routes and the callbacks; tests build their own app with it.
``python app.py`` (what ``make run`` calls) serves it at http://HOST:PORT.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dash import Dash
from flask import Flask

import callbacks.map
import routes.geo
from geo.index import GridIndex
from i18n import text
from layouts.shell import index_html, page
from settings import PROJECT_ROOT, Settings

log = logging.getLogger("pingan")


@dataclass
class PinganApp:
    """What :func:`create_app` builds: the Flask server and the Dash app on it."""

    settings: Settings
    server: Flask
    dash: Dash
    grids: GridIndex


def create_app(settings: Settings | None = None) -> PinganApp:
    """Build the whole application from ``settings`` (default: the environment)."""
    settings = settings or Settings.from_env()
    grids = GridIndex(settings.data_dir)
    server = Flask(__name__)
    dash_app = Dash(
        __name__,
        server=server,
        title=text("app.title", settings.language),
        assets_folder=str(PROJECT_ROOT / "assets"),
        update_title=None,
        compress=False,
    )
    dash_app.index_string = index_html(settings)
    dash_app.layout = page(settings)
    routes.geo.register(server, grids, settings.language)
    callbacks.map.register(dash_app, grids, settings)
    return PinganApp(settings=settings, server=server, dash=dash_app, grids=grids)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app()
    log.info("Ping'an Command at http://%s:%d", app.settings.host, app.settings.port)
    app.server.run(host=app.settings.host, port=app.settings.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
