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
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from dash import Dash, html
from flask import Flask
from flask_socketio import SocketIO
from sqlalchemy import Engine, func, select

import auth.admin
import auth.web
import callbacks.dispatch
import callbacks.indicators
import callbacks.live
import callbacks.map
import callbacks.risk
import callbacks.screen
import callbacks.sensors
import routes.geo
import routes.live
import routes.ops
import routes.reports
import routes.risk
import routes.sensors
from auth.guard import Security, current_viewer
from auth.sessions import SessionRegistry
from auth.users import UserStore
from dispatch.service import DispatchService
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from i18n import text
from indicators.live import EVENT_TYPE, Indicators
from layouts.dispatch import dynamic_components
from layouts.ids import AuthID, PagePath
from layouts.screen import screen_page
from layouts.shell import index_html, page
from reports.build import ReportBuilder
from risk.engine import RiskEngine
from risk.leads import LeadService
from sensors.alerts import AlertService
from sensors.health import DeviceHealth, HealthMonitor
from settings import PROJECT_ROOT, Settings
from store.audit import AuditLog
from store.db import database_url, incidents, make_engine
from streams.connection import EmbeddedRedis, connect
from streams.consumer import Consumer
from streams.push import PushHub

log = logging.getLogger("pingan")


@dataclass
class PinganApp:
    """What :func:`create_app` builds."""

    settings: Settings
    server: Flask
    dash: Dash
    screen: Dash  # the big screen's app, on the same server
    socketio: SocketIO
    grids: GridIndex
    devices: DeviceRegistry
    redis_url: str
    redis: redis.Redis
    engine: Engine
    hub: PushHub
    dispatch: DispatchService
    alerts: AlertService
    health: DeviceHealth
    risk: RiskEngine
    indicators: Indicators
    security: Security
    embedded_redis: EmbeddedRedis | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, consumer: bool = True, simulator: bool | None = None, risk_runs: bool = True) -> None:
        """Start the background work (once): consumer, push hub, health and risk runs, simulator."""
        if self.threads:
            return
        self._spawn("push-hub", self.hub.run, self.stop_event)
        self._spawn("socket-cutter", auth.web.SocketCutter(connect(self.redis_url), self.socketio).run,
                    self.stop_event)
        self._spawn("outbox-relay", self.dispatch.run_relay, self.stop_event)
        self._spawn("device-health", HealthMonitor(self.health, connect(self.redis_url)).run, self.stop_event)
        if risk_runs:
            self._spawn("risk-daily", self.risk.run_daily, self.stop_event)
        self._spawn("indicators", self.indicators.run, self.stop_event)
        if consumer:
            worker = Consumer(connect(self.redis_url), self.engine, self.grids, self.devices, dispatch=self.dispatch,
                              on_incidents=self.risk.check_incidents)
            self._spawn("consumer", worker.run, self.stop_event)
        if self.settings.simulator if simulator is None else simulator:
            from streams.simulator import FieldUnits, Simulator

            sim = Simulator(connect(self.redis_url), self.grids, self.devices, speed=self.settings.sim_speed)
            self._spawn("simulator", sim.run, self.stop_event)
            field_units = FieldUnits(connect(self.redis_url), speed=self.settings.sim_speed)
            self._spawn("field-units", field_units.run, self.stop_event)

    def backfill_history(self) -> None:
        """On a first start (no incident older than two days), write a year of history through the
        ingest stream in the background, then grade the grids against it (``BACKFILL=0`` skips)."""
        with self.engine.connect() as conn:
            known = conn.execute(select(incidents.c.event_id).where(
                incidents.c.reported_at < datetime.now(UTC) - timedelta(days=2)).limit(1)).first()
        if known is not None:
            return

        def work() -> None:
            from risk import backfill

            end = datetime.now(backfill.CHINA_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
            written = backfill.write(connect(self.redis_url), self.grids, end)
            log.info("backfill: %d incidents of history written; the consumer is keeping them", written)
            with self.engine.connect() as conn:
                while not self.stop_event.wait(1.0):  # another thread's progress: nothing to await
                    if conn.execute(select(func.count()).select_from(incidents)).scalar_one() >= written:
                        break
                    conn.rollback()
            if not self.stop_event.is_set():
                result = self.risk.run("backfill")
                log.info("risk run over the history: %.1f s, %d new leads", result.seconds, result.leads_created)

        self._spawn("backfill", work)

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.engine.dispose()
        if self.embedded_redis:
            self.embedded_redis.stop()

    def _spawn(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)


def create_app(settings: Settings | None = None) -> PinganApp:
    """Build the whole application from ``settings`` (default: the environment)."""
    settings = settings or Settings.from_env()
    grids = GridIndex(settings.data_dir)
    devices = DeviceRegistry(settings.data_dir)
    embedded = None
    redis_url = settings.redis_url
    if not redis_url:
        embedded = EmbeddedRedis(settings.var_dir)
        redis_url = embedded.start()
    engine = make_engine(database_url(settings.database_url, settings.var_dir))

    server = Flask(__name__)
    # Same-origin only by default; ALLOWED_ORIGINS adds explicit others (never "*").
    socketio = SocketIO(server, async_mode="threading",
                        cors_allowed_origins=list(settings.allowed_origins) or None)
    dispatch = DispatchService(engine, connect(redis_url), grids, language=settings.language)
    alerts = AlertService(engine, devices, grids, relay=dispatch.relay, language=settings.language)
    health = DeviceHealth(connect(redis_url), engine, devices)
    risk = RiskEngine(engine, connect(redis_url), devices,
                      LeadService(engine, grids, relay=dispatch.relay, language=settings.language))
    indicators = Indicators(engine, connect(redis_url), grids, devices)
    hub = PushHub(connect(redis_url), engine, emit=lambda sid, payload: socketio.emit("batch", payload, to=sid),
                  open_instructions=dispatch.open_instructions, open_alerts=alerts.open_alerts,
                  extras={"leads": risk.leads.open_leads, "risk_grades": risk.grades, "indicators": indicators.today},
                  states={EVENT_TYPE: indicators.today})

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
    screen_app = Dash(__name__, server=server, url_base_pathname=PagePath.SCREEN,
                      title=text("screen.title", settings.language), assets_folder=str(PROJECT_ROOT / "assets"),
                      update_title=None, compress=False)
    screen_app.index_string = index_html(settings, base=PagePath.SCREEN)
    screen_app.layout = lambda: screen_page(settings, current_viewer(), stations)
    client = connect(redis_url)
    security = make_security(settings, engine, client)
    routes.geo.register(server, grids, devices, settings.language)
    routes.live.register(server, socketio, hub, grids)
    routes.ops.register(server, client, engine, hub)
    routes.sensors.register(server, health, devices, settings.language)
    routes.risk.register(server, engine, settings.language)
    routes.reports.register(server, ReportBuilder(engine, grids), settings.language)
    auth.admin.register(server, settings.language, grids.stations(settings.language))
    callbacks.map.register(dash_app, grids, settings)
    callbacks.live.register(dash_app)
    callbacks.dispatch.register(dash_app, dispatch, settings)
    callbacks.sensors.register(dash_app, alerts, settings)
    callbacks.risk.register(dash_app, risk, settings)
    callbacks.indicators.register(dash_app, indicators, grids, settings)
    callbacks.screen.register(screen_app)
    # After every callback: Dash's inline scripts are known, so the CSP can list their hashes.
    script_hashes = sorted(set(dash_app.csp_hashes()) | set(screen_app.csp_hashes()))
    auth.web.install(server, security, settings, csp_hashes=lambda: script_hashes)
    return PinganApp(settings=settings, server=server, dash=dash_app, screen=screen_app, socketio=socketio, grids=grids,
                     devices=devices, redis_url=redis_url, redis=client, engine=engine, hub=hub,
                     dispatch=dispatch, alerts=alerts, health=health, risk=risk, indicators=indicators,
                     security=security,
                     embedded_redis=embedded)


def make_security(settings: Settings, engine: Engine, r: redis.Redis) -> Security:
    """Accounts, sessions and the audit log, tuned by ``settings``."""
    sessions = SessionRegistry(r, idle_s=settings.idle_lock_minutes * 60, lifetime_s=settings.session_hours * 3600,
                               kiosk_lifetime_s=settings.kiosk_session_days * 86400)
    return Security(users=UserStore(engine), sessions=sessions, audit=AuditLog(engine),
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
