"""The one assembly of the running services, for every entry point.

:func:`build` connects Redis (an embedded one when ``REDIS_URL`` is unset) and the system of
record, sets the installation's clock, and wires the domain services together exactly once:
the consumer with its hooks (field feedback to dispatch, new incidents to the instant warning
rules and to a household's mediators), the push hub, dispatch, alerts, device health, risk,
indicators, return visits, supervision, the mediation centre, the scheduled reports, live video (the
cameras, the gateway, the signalling relay's rules) and the outbox relay.
``app.py`` (the dashboard), ``worker.py`` (extra consumers), the benchmarks and the fault suite
all start from it, so none of them can run a consumer that skips a hook.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis
from sqlalchemy import Engine, func, select

import clock
from bus.connection import EmbeddedRedis, connect
from bus.events import Live
from bus.outbox import OutboxRelay
from bus.rename import rename_legacy_keys
from dispatch.service import DispatchService
from duties.config import DUTIES_FILE
from duties.config import load as load_duties
from duties.service import DutyService
from evaluation.service import EvaluationService, open_evaluation
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from geo.roster import Roster
from gridwork.tasks import TaskService
from indicators.live import Indicators
from ingest.consumer import Consumer, Lane
from media.store import MediaStore, open_store
from mediation import people
from mediation.service import MediationService
from mediation.vault import Vault
from positions.areas import Areas
from positions.presence import Rules
from push.hub import Emit, PushHub
from reports.build import ReportBuilder
from reports.schedule import ReportSchedule
from revisits.service import RevisitService
from risk.engine import RiskEngine
from risk.leads import LeadService
from sensors.alerts import AlertService
from sensors.health import DeviceHealth, HealthMonitor, health_map
from settings import Settings
from simulation.timelapse import world_clock
from store.db import database_url, incidents, make_engine
from supervision.notices import NoticeService
from supervision.service import SupervisionService, rules_from
from supervision.weekly import SummaryService
from video.service import VideoService
from video.service import build as build_video

log = logging.getLogger(__name__)
RESTART_AFTER_S = 1.0  # a background part that failed is started again after this pause


@dataclass
class Services:
    """What :func:`build` assembles, and the background work it can start."""

    settings: Settings
    redis_url: str
    redis: redis.Redis
    engine: Engine
    grids: GridIndex
    devices: DeviceRegistry
    outbox: OutboxRelay
    dispatch: DispatchService
    alerts: AlertService
    tasks: TaskService
    media: MediaStore
    health: DeviceHealth
    risk: RiskEngine
    indicators: Indicators
    revisits: RevisitService
    supervision: SupervisionService
    summaries: SummaryService
    notices: NoticeService
    mediation: MediationService
    video: VideoService
    reports: ReportSchedule
    evaluation: EvaluationService  # the community-policing index: scores per person and station
    duties: DutyService  # the core task list: duties per post and person, the 17:00 completion table
    roster: Roster  # the grid teams' people (community officers, grid workers), built once from the grids
    hub: PushHub | None = None  # only where pages are served (it needs a way to emit)
    areas: Areas | None = None  # people's communities (grids and margin): their positions are judged against them
    embedded_redis: EmbeddedRedis | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    # Set once the district's history is kept (at once without a backfill): last month's return-visit sample is
    # drawn from it, so a first start draws after its backfill, not from a month still being written.
    history_ready: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def consumer(self, name: str | None = None, lane: Lane = Lane.EVENTS) -> Consumer:
        """A stream consumer of one lane with every hook: field feedback to dispatch, new incidents to the warning
        rules and to the mediators of a household calling again, compound alerts to their grid worker and property
        manager at once."""
        return Consumer(connect(self.redis_url), self.engine, self.grids, self.devices, name=name, media=self.media,
                        feedback=self.dispatch.feedback, revisit_calls=self.revisits.call_centre,
                        on_incidents=self.new_incidents,
                        on_alerts=self.alerts.notify_at_once, relay=self.outbox.relay, areas=self.areas, lane=lane)

    def lanes(self) -> list[Lane]:
        """The ingest lanes this process consumes (``CONSUMER_LANES``)."""
        known = [lane.value for lane in Lane]
        unknown = [name for name in self.settings.consumer_lanes if name not in known]
        if unknown:
            raise ValueError(f"CONSUMER_LANES: unknown lane {unknown[0]!r} (the lanes: {', '.join(known)})")
        return [Lane(name) for name in dict.fromkeys(self.settings.consumer_lanes)]

    def new_incidents(self, rows: list[dict[str, Any]]) -> None:
        """What newly kept incidents set off: the instant warning rules, and a household's open mediation case."""
        try:
            self.risk.check_incidents(rows)
        finally:  # one failing must not keep the other from running
            self.mediation.household_calls(rows)

    def start(self, consumer: bool = True, simulator: bool | None = None, scheduled: bool = True) -> None:
        """Start the background work (once): push hub, relays, health, the scheduled runs (risk, the monthly
        return-visit draw, supervision's scan), indicators, consumer, simulator."""
        if self.threads:
            return
        if self.hub is not None:
            self.spawn("push-hub", self.hub.run, self.stop_event)
            self.video.start()  # where pages are served: the gateway they watch through
            self.spawn("video", self.video.run, self.stop_event)
        self.spawn("outbox-relay", self.outbox.run, self.stop_event)
        self.spawn("device-health", HealthMonitor(self.health, connect(self.redis_url)).run, self.stop_event)
        if scheduled:
            self.spawn("risk-daily", self.risk.run_daily, self.stop_event)
            self.spawn("revisit-draw", self._draw_revisits)
            self.spawn("supervision", self.supervision.run, self.stop_event, connect(self.redis_url), self.owner)
            self.spawn("monday-summary", self._summaries)
            if self.settings.report_schedule:
                self.spawn("reports", self._reports)
        if not self.settings.backfill:
            self.history_ready.set()
        self.spawn("indicators", self.indicators.run, self.stop_event)
        if consumer:
            for lane in self.lanes():  # each lane its own thread: an alert never waits behind heartbeats
                self.spawn(f"consumer-{lane}", self.consumer(lane=lane).run, self.stop_event)
        if self.settings.simulator if simulator is None else simulator:
            from simulation.field_units import FieldUnits
            from simulation.grid_workers import GridWorkers
            from simulation.mediation_centre import MediationCentre
            from simulation.revisit_clerk import RevisitClerk
            from simulation.simulator import Simulator
            from simulation.station_chiefs import Chiefs

            sim = Simulator(connect(self.redis_url), self.grids, self.devices, officers=self.settings.sim_officers)
            self.spawn("simulator", sim.run, self.stop_event)
            self.spawn("field-units", FieldUnits(connect(self.redis_url)).run, self.stop_event)
            self.spawn("grid-workers", GridWorkers(connect(self.redis_url), self.tasks).run, self.stop_event)
            self.spawn("revisit-clerk", RevisitClerk(self.revisits).run, self.stop_event)
            self.spawn("chiefs", Chiefs(self.supervision, self.notices, self.summaries).run, self.stop_event)
            self.spawn("mediation-centre", MediationCentre(self.mediation, self.engine).run, self.stop_event)

    def backfill_history(self) -> None:
        """On a first start (no incident older than two days), write a year of history up to this moment
        through the ingest stream, in the background, then grade the grids against it."""
        with self.engine.connect() as conn:
            known = conn.execute(select(incidents.c.event_id).where(
                incidents.c.reported_at < clock.now() - timedelta(days=2)).limit(1)).first()
        if known is not None:
            self.history_ready.set()
            return

        def work() -> None:
            from simulation import backfill

            written = backfill.write(connect(self.redis_url), self.grids, clock.now())
            log.info("backfill: %d incidents of history written; the consumer is keeping them", written)
            with self.engine.connect() as conn:
                while not self.stop_event.wait(1.0):  # another thread's progress: nothing to await
                    if conn.execute(select(func.count()).select_from(incidents)).scalar_one() >= written:
                        break
                    conn.rollback()
            self.history_ready.set()
            if not self.stop_event.is_set():
                result = self.risk.run("backfill")
                log.info("risk run over the history: %.1f s, %d new leads", result.seconds, result.leads_created)

        self.spawn("backfill", work)

    def _draw_revisits(self) -> None:
        self.history_ready.wait()  # stop() sets it too
        if not self.stop_event.is_set():
            self.revisits.run_monthly(self.stop_event, connect(self.redis_url), self.owner)

    def _reports(self) -> None:
        self.history_ready.wait()  # the reports are the record's: not a half-written backfill's
        if not self.stop_event.is_set():
            self.reports.run(self.stop_event, connect(self.redis_url), self.owner)

    def _summaries(self) -> None:
        self.history_ready.wait()  # last week's calls and leads: from the kept history, not a half-written one
        if not self.stop_event.is_set():
            self.summaries.run(self.stop_event, connect(self.redis_url), self.owner)

    @property
    def owner(self) -> str:
        """This process, as a lease's holder."""
        return f"{socket.gethostname()}-{os.getpid()}"

    def spawn(self, name: str, target: Callable[..., Any], *args: Any) -> None:
        """Run ``target(*args)`` in a thread until the services stop, started again after an error it did not
        handle (a PostgreSQL restart, a bug in one batch): a background part must never die quietly."""
        def supervised() -> None:
            while not self.stop_event.is_set():
                try:
                    target(*args)
                    return
                except Exception:
                    log.exception("%s stopped by an error; starting it again in %.0f s", name, RESTART_AFTER_S)
                    self.stop_event.wait(RESTART_AFTER_S)

        thread = threading.Thread(target=supervised, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def stop(self) -> None:
        self.stop_event.set()
        self.history_ready.set()  # nothing waits for a history that will not come
        for thread in self.threads:
            thread.join(timeout=5)
        self.video.stop()
        self.engine.dispose()
        if self.embedded_redis:
            self.embedded_redis.stop()


def printed_or_none(report: Any) -> bytes | None:
    """A scheduled report's PDF, or none where Chromium is not installed (the delivery is kept without it)."""
    from reports.render import PdfUnavailable, pdf_bytes

    try:
        return pdf_bytes(report)
    except PdfUnavailable:
        log.warning("report %s/%s delivered without its PDF: Chromium is not installed", report.kind, report.key)
        return None


def build(settings: Settings | None = None, emit: Emit | None = None) -> Services:
    """Assemble the services from ``settings`` (default: the environment); ``emit`` makes a push hub."""
    settings = settings or Settings.from_env()
    embedded = None
    redis_url = settings.redis_url
    if not redis_url:
        embedded = EmbeddedRedis(settings.var_dir)
        redis_url = embedded.start()
    client = connect(redis_url)
    rename_legacy_keys(client)  # a Redis written before version 0.2.0 keeps its data under the new names
    clock.use(world_clock(client, settings.sim_speed))
    engine = make_engine(database_url(settings.database_url, settings.var_dir))
    grids = GridIndex(settings.data_dir)
    devices = DeviceRegistry(settings.data_dir, engine=engine)
    outbox = OutboxRelay(engine, connect(redis_url))
    dispatch = DispatchService(engine, connect(redis_url), grids, outbox, language=settings.language)
    media = open_store(settings)
    tasks = TaskService(engine, grids, relay=outbox.relay, slow_zones=settings.grid_task_slow_zones,
                        far_m=settings.grid_task_far_m, language=settings.language, media=media)
    alerts = AlertService(engine, devices, grids, relay=outbox.relay, tasks=tasks, language=settings.language)
    health = DeviceHealth(connect(redis_url), engine, devices)
    leads = LeadService(engine, grids, relay=outbox.relay, language=settings.language, tasks=tasks)
    tasks.on_reported.append(leads.handled_by_task)
    risk = RiskEngine(engine, connect(redis_url), devices, leads)
    indicators = Indicators(engine, connect(redis_url), grids, devices)
    revisits = RevisitService(engine, grids, leads, relay=outbox.relay, percent=settings.revisit_percent,
                              due_days=dict(settings.revisit_due_days), language=settings.language)
    supervision = SupervisionService(engine, grids, rules_from(settings.supervision_rules), relay=outbox.relay,
                                     language=settings.language, scan_s=settings.supervision_scan_s)
    summaries = SummaryService(engine, indicators.station_of, [code for code, _ in grids.stations("en")],
                               relay=outbox.relay)
    notices = NoticeService(engine, dict(grids.stations(settings.language)), language=settings.language)
    people.seed(engine, settings.data_dir)
    mediation = MediationService(engine, grids, Vault.from_settings(settings.pii_key, settings.var_dir),
                                 relay=outbox.relay, language=settings.language, lead_handled=leads.handled_in)
    video = build_video(settings, devices, connect(redis_url), engine, indicators.station_of)
    roster = Roster(grids)
    evaluation = open_evaluation(engine, grids, roster, Rules.from_settings(settings))
    duties = DutyService(engine, roster, load_duties(settings.data_dir / DUTIES_FILE))
    schedule = ReportSchedule(engine, ReportBuilder(engine, grids, media=media, roster=roster, duties=duties,
                                                    evaluation=evaluation),
                              print_pdf=printed_or_none, relay=outbox.relay, language=settings.language)
    services = Services(settings=settings, redis_url=redis_url, redis=client, engine=engine, grids=grids,
                        devices=devices, outbox=outbox, dispatch=dispatch, alerts=alerts, tasks=tasks, media=media,
                        health=health, risk=risk, indicators=indicators, revisits=revisits, supervision=supervision,
                        summaries=summaries, notices=notices, mediation=mediation, video=video, reports=schedule,
                        evaluation=evaluation, duties=duties, roster=roster, embedded_redis=embedded)
    services.areas = Areas(roster, grids, settings.community_margin_m)
    if emit is not None:
        services.hub = PushHub(connect(redis_url), engine, emit=emit, open_instructions=dispatch.open_instructions,
                               open_alerts=alerts.open_alerts,
                               extras={"leads": risk.leads.open_leads, "risk_grades": risk.grades,
                                       "indicators": indicators.today, "grid_tasks": tasks.board,
                                       "escalations": supervision.open_escalations, "summary": summaries.latest},
                               states={Live.INDICATORS: indicators.today,
                                       Live.DEVICE_HEALTH_ALL: lambda: health_map(client)})
    return services
