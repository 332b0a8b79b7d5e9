"""Ping'an Command: the app factory and the development entry point.

``create_app(settings)`` wires one Flask server with Socket.IO (threading mode),
the Dash page, the routes and the callbacks, and connects Redis (embedded when
``REDIS_URL`` is unset) and the system of record; tests build their own app
with it. ``PinganApp.start()`` starts the background work: the stream
consumer, the push hub and (optionally) the simulator. ``python app.py`` (what
``make run`` calls) does all of it and serves http://HOST:PORT.
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from functools import partial

import redis
from dash import Dash, html
from flask import Flask
from flask_socketio import SocketIO
from sqlalchemy import Engine

import auth.admin
import auth.web
import callbacks.dispatch
import callbacks.indicators
import callbacks.live
import callbacks.map
import callbacks.phone
import callbacks.risk
import callbacks.screen
import callbacks.sensors
import routes.device_layer
import routes.duties
import routes.evaluation
import routes.geo
import routes.live
import routes.media
import routes.mediation
import routes.notices
import routes.ops
import routes.reports
import routes.revisits
import routes.risk
import routes.sensors
import routes.supervision
import routes.video
import services
from auth.guard import Security, current_viewer
from auth.roles import Permission, Role
from auth.sessions import SessionRegistry
from auth.users import UserStore
from bus.connection import connect
from dispatch.service import DispatchService
from evaluation.service import EvaluationService
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from gridwork.tasks import TaskService
from i18n import text
from indicators.live import Indicators
from layouts.dispatch import dynamic_components
from layouts.ids import AuthID
from layouts.phone import phone_page
from layouts.screen import screen_page
from layouts.shell import index_html, page
from media.store import MediaStore
from mediation.service import MediationService
from push.hub import PushHub
from reports.render import html_pdf
from revisits.service import RevisitService
from risk.engine import RiskEngine
from sensors.alerts import AlertService
from sensors.health import DeviceHealth
from settings import PROJECT_ROOT, Settings
from store.audit import AuditLog
from supervision.notices import NoticeService
from supervision.service import SupervisionService
from supervision.weekly import SummaryService
from urls import URL

log = logging.getLogger("pingan")


@dataclass
class PinganApp:
    """What :func:`create_app` builds: the web side around the assembled :class:`services.Services`."""

    services: services.Services
    server: Flask
    dash: Dash
    screen: Dash  # the big screen's app, on the same server
    phone: Dash  # the grid workers' phone page, on the same server
    socketio: SocketIO
    security: Security

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def grids(self) -> GridIndex:
        return self.services.grids

    @property
    def devices(self) -> DeviceRegistry:
        return self.services.devices

    @property
    def engine(self) -> Engine:
        return self.services.engine

    @property
    def evaluation(self) -> EvaluationService:
        return self.services.evaluation

    @property
    def redis(self) -> redis.Redis:
        return self.services.redis

    @property
    def redis_url(self) -> str:
        return self.services.redis_url

    @property
    def hub(self) -> PushHub:
        assert self.services.hub is not None
        return self.services.hub

    @property
    def dispatch(self) -> DispatchService:
        return self.services.dispatch

    @property
    def alerts(self) -> AlertService:
        return self.services.alerts

    @property
    def tasks(self) -> TaskService:
        return self.services.tasks

    @property
    def media(self) -> MediaStore:
        return self.services.media

    @property
    def revisits(self) -> RevisitService:
        return self.services.revisits

    @property
    def supervision(self) -> SupervisionService:
        return self.services.supervision

    @property
    def notices(self) -> NoticeService:
        return self.services.notices

    @property
    def mediation(self) -> MediationService:
        return self.services.mediation

    @property
    def summaries(self) -> SummaryService:
        return self.services.summaries

    @property
    def health(self) -> DeviceHealth:
        return self.services.health

    @property
    def risk(self) -> RiskEngine:
        return self.services.risk

    @property
    def indicators(self) -> Indicators:
        return self.services.indicators

    def start(self, consumer: bool = True, simulator: bool | None = None, scheduled: bool = True) -> None:
        """Start the background work (once): the services' and the socket cutter."""
        if self.services.threads:
            return
        self.services.start(consumer=consumer, simulator=simulator, scheduled=scheduled)
        cutter = auth.web.SocketCutter(connect(self.redis_url), self.socketio)
        self.services.spawn("socket-cutter", cutter.run, self.services.stop_event)

    def backfill_history(self) -> None:
        self.services.backfill_history()

    def stop(self) -> None:
        self.services.stop()


def create_app(settings: Settings | None = None) -> PinganApp:
    """Build the whole application from ``settings`` (default: the environment)."""
    settings = settings or Settings.from_env()
    server = Flask(__name__)
    # Same-origin only by default; ALLOWED_ORIGINS adds explicit others (never "*").
    socketio = SocketIO(server, async_mode="threading",
                        cors_allowed_origins=list(settings.allowed_origins) or None)
    parts = services.build(settings, emit=lambda sid, payload: socketio.emit("batch", payload, to=sid))
    assert parts.hub is not None
    grids = parts.grids

    dash_app = Dash(
        __name__,
        server=server,
        title=text("app.title", settings.language),
        assets_folder=str(PROJECT_ROOT / "assets"),
        update_title=None,
        compress=False,
    )
    dash_app.index_string = index_html(settings)
    # Built per request: the page shows what the signed-in viewer's role allows.
    stations = grids.stations(settings.language)
    dash_app.layout = lambda: page(settings, current_viewer(), stations)
    dash_app.validation_layout = html.Div([page(settings), *dynamic_components(), html.Button(id=AuthID.LOGOUT)])
    # The command hall's wall: a second Dash app on the same server, at its own address.
    screen_app = Dash(__name__, server=server, url_base_pathname=URL.SCREEN,
                      title=text("screen.title", settings.language), assets_folder=str(PROJECT_ROOT / "assets"),
                      update_title=None, compress=False)
    screen_app.index_string = index_html(settings, base=URL.SCREEN)
    screen_app.layout = lambda: screen_page(settings, current_viewer(), stations)
    # A grid worker's phone: a third Dash app, without the map's geometry, sized for one hand.
    phone_app = Dash(__name__, server=server, url_base_pathname=URL.PHONE,
                     title=text("phone.title", settings.language), assets_folder=str(PROJECT_ROOT / "assets"),
                     update_title=None, compress=False,
                     meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}])
    phone_app.index_string = index_html(settings, base=URL.PHONE, map_page=False)
    security = make_security(settings, parts.engine, parts.redis, known_grids=frozenset(parts.grids.codes.tolist()))

    def phone_layout() -> html.Div:
        viewer = current_viewer()
        helpers = {grid: security.users.workers_of(grid, Role.VOLUNTEER)
                   for grid in sorted(viewer.grids)} if viewer and viewer.can(Permission.WORK_GRID_TASKS) else {}
        return phone_page(settings, viewer, helpers)

    phone_app.layout = phone_layout
    for routes_of_a_part in (
        routes.geo.blueprint(grids, parts.devices, settings.language),
        routes.device_layer.blueprint(parts.devices, parts.redis),
        routes.live.blueprint(socketio, parts.hub, grids),
        routes.ops.blueprint(parts.redis, parts.engine, parts.hub),
        routes.sensors.blueprint(parts.health, parts.devices, settings.language, grids=grids),
        routes.risk.blueprint(parts.engine, settings.language),
        routes.reports.blueprint(parts.reports.builder, settings.language,
                                 schedule=parts.reports),
        routes.media.blueprint(parts.tasks, parts.media, settings.language, alerts=parts.alerts,
                               station_of=parts.indicators.station_of),
        routes.video.blueprint(parts.video, settings),
        routes.revisits.blueprint(parts.revisits, settings.language, stations),
        routes.supervision.blueprint(parts.supervision, settings.language, stations),
        routes.duties.blueprint(parts.duties, settings.language, stations),
        routes.notices.blueprint(parts.notices, parts.summaries, settings.language, stations),
        routes.evaluation.blueprint(parts.evaluation, settings.language),
        routes.mediation.blueprint(parts.mediation, parts.redis, settings.language, stations,
                                   settings.mediation_apply_per_hour, partial(html_pdf, landscape=False)),
        auth.admin.blueprint(settings.language, grids.stations(settings.language)),
    ):
        server.register_blueprint(routes_of_a_part)
    callbacks.map.register(dash_app, grids, settings)
    callbacks.live.register(dash_app)
    callbacks.dispatch.register(dash_app, parts.dispatch, settings, evidence=parts.alerts.snapshot_of)
    callbacks.sensors.register(dash_app, parts.alerts, settings)
    callbacks.risk.register(dash_app, parts.risk, settings)
    callbacks.indicators.register(dash_app, parts.indicators, grids, settings)
    callbacks.screen.register(screen_app)
    callbacks.phone.register(phone_app, parts.tasks, settings)
    # After every callback: Dash's inline scripts are known, so the CSP can list their hashes.
    script_hashes = sorted(set(dash_app.csp_hashes()) | set(screen_app.csp_hashes()) | set(phone_app.csp_hashes()))
    server.register_blueprint(auth.web.blueprint(security, settings, csp_hashes=lambda: script_hashes))
    return PinganApp(services=parts, server=server, dash=dash_app, screen=screen_app, phone=phone_app,
                     socketio=socketio, security=security)


def make_security(settings: Settings, engine: Engine, r: redis.Redis,
                  known_grids: frozenset[str] = frozenset()) -> Security:
    """Accounts, sessions and the audit log, tuned by ``settings``."""
    sessions = SessionRegistry(r, idle_s=settings.idle_lock_minutes * 60, lifetime_s=settings.session_hours * 3600,
                               kiosk_lifetime_s=settings.kiosk_session_days * 86400)
    return Security(users=UserStore(engine, known_grids=known_grids), sessions=sessions, audit=AuditLog(engine),
                    login_per_minute=settings.login_per_minute)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app()
    password = app.security.users.ensure_admin()
    if password:
        # Printed once, never stored in clear: the first sign-in of a fresh installation.
        print(f"\n  First start: administrator account created.\n  username: admin\n  password: {password}\n"
              "  Sign in at /login, then create the duty officers' accounts under /admin.\n", flush=True)
    app.start()
    if app.settings.backfill:
        app.backfill_history()
    # SIGTERM ends the server loop like Ctrl-C does; `finally` then stops the workers.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    log.info("Ping'an Command at http://%s:%d", app.settings.host, app.settings.port)
    try:
        app.socketio.run(app.server, host=app.settings.host, port=app.settings.port,
                         allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        app.stop()


if __name__ == "__main__":
    main()
