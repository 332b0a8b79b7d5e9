"""Roles and what each may do: least privilege, in one table.

A permission names an act or a kind of data, never a screen. Callbacks,
Socket.IO handlers and routes ask for a permission through :mod:`auth.guard`;
nothing else compares role names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    DUTY_OFFICER = "duty_officer"
    STATION_OFFICER = "station_officer"
    CHIEF = "chief"
    SCREEN = "screen"  # a big screen, signed in by a kiosk token
    ADMIN = "admin"
    GRID_WORKER = "grid_worker"  # a grid's full-time worker: their grids' tasks, on a phone (/m/)
    VOLUNTEER = "volunteer"  # the "N" of a grid's 1+1+N team: the tasks its grid worker hands them, on a phone
    REVISIT_CLERK = "revisit_clerk"  # the centre's return-visit desk: calls people back to confirm each fix
    STATION_CHIEF = "station_chief"  # a police station's chief: its figures, its supervision list; no dispatch
    MEDIATOR = "mediator"  # a mediator of the district mediation centre: their own cases, nothing else
    MEDIATION_DESK = "mediation_desk"  # the mediation centre's desk: triage, matching, every case


class Permission(StrEnum):
    VIEW_MAP = "view_map"  # the grid map and the live picture
    VIEW_ALL_STATIONS = "view_all_stations"  # otherwise only the viewer's own station
    VIEW_PERSONAL_DATA = "view_personal_data"  # callers' numbers in full
    VIEW_CALLERS_MASKED = "view_callers_masked"  # callers' numbers masked (without it: none at all)
    OPEN_INCIDENT = "open_incident"  # the incident panel with its units and log
    DISPATCH = "dispatch"  # send, reassign, divert, close and cancel instructions
    VERIFY_ALERTS = "verify_alerts"
    VIEW_DEVICES = "view_devices"  # device health, maintenance list, sensor statistics
    HANDLE_LEADS = "handle_leads"
    RUN_RISK = "run_risk"  # start an early-warning run now
    VIEW_REPORTS = "view_reports"
    VIEW_AUDIT = "view_audit"
    MANAGE_USERS = "manage_users"
    FOLLOW_LIVE = "follow_live"  # receive pushed events (each seen through the viewer's lens)
    WORK_GRID_TASKS = "work_grid_tasks"  # the tasks in one's own grids: take their steps, hand them to a volunteer
    TAKE_TASK_STEPS = "take_task_steps"  # the phone page: the steps of one's tasks (own grids', or handed to one)
    VIEW_REVISITS = "view_revisits"  # the return visits, their matters and outcomes (numbers masked)
    CALL_REVISITS = "call_revisits"  # make the calls: the number in full (audited), record each call
    ADD_REVISITS = "add_revisits"  # add a closed matter to visit by hand (a complaint, a chief's choice)
    DRAW_REVISITS = "draw_revisits"  # draw a month's sample now (otherwise drawn on the 1st)
    VIEW_SUPERVISION = "view_supervision"  # the supervision list: late items escalated (own station's, or all)
    RESPOND_SUPERVISION = "respond_supervision"  # answer an escalation, which closes it (own station's, or all)
    ISSUE_NOTICES = "issue_notices"  # issue a rectification notice to a station (measures, a deadline of <= 7 days)
    REPORT_NOTICES = "report_notices"  # report progress on a notice to one's station, and close it when done
    VIEW_MEDIATION = "view_mediation"  # mediation cases (a mediator's own, a station's, or all), numbers masked
    OPEN_MEDIATION = "open_mediation"  # the triage form: open a case from an incident, a lead or by hand
    MEDIATE = "mediate"  # the steps of a case one mediates: contact, session, agreement, fulfilment, visit
    ASSIGN_MEDIATORS = "assign_mediators"  # choose a case's mediators over the matching's proposal
    VIEW_PARTY_NUMBERS = "view_party_numbers"  # the parties' identity and phone numbers in full (audited)
    WATCH_CAMERAS = "watch_cameras"  # cameras' live video and alert snapshots (own station's, or all); audited
    # The core task list (/duties): one's own rows; with VIEW_SUPERVISION, one's station's people (or everyone's).
    VIEW_DUTIES = "view_duties"
    TICK_DUTIES = "tick_duties"  # tick one's own manual duty done (the person themselves only: routes/duties.py)
    # The evaluation index (/evaluation): one's own scores and the records behind them, always; with VIEW_SCORES,
    # the people of one's station (or everyone's); with VIEW_STATION_SCORES, every station's (no person's).
    VIEW_EVALUATION = "view_evaluation"
    VIEW_SCORES = "view_scores"
    VIEW_STATION_SCORES = "view_station_scores"


_COMMON = {Permission.VIEW_MAP, Permission.FOLLOW_LIVE, Permission.VIEW_CALLERS_MASKED, Permission.VIEW_DEVICES,
           Permission.WATCH_CAMERAS}

# A station's people are bound to it: they see its grids, its figures, its supervision list.
STATION_BOUND = frozenset({Role.STATION_OFFICER, Role.STATION_CHIEF})
# Field people are bound to grids: a grid worker works them, a volunteer helps in them.
GRID_BOUND = frozenset({Role.GRID_WORKER, Role.VOLUNTEER})
# A mediator is bound to the cases they are matched to.
CASE_BOUND = frozenset({Role.MEDIATOR})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.DUTY_OFFICER: frozenset(_COMMON | {
        Permission.VIEW_ALL_STATIONS, Permission.VIEW_PERSONAL_DATA, Permission.OPEN_INCIDENT,
        Permission.DISPATCH, Permission.VERIFY_ALERTS, Permission.HANDLE_LEADS, Permission.RUN_RISK,
        Permission.VIEW_MEDIATION, Permission.OPEN_MEDIATION, Permission.VIEW_DUTIES, Permission.TICK_DUTIES}),
    Role.STATION_OFFICER: frozenset(_COMMON | {
        Permission.VIEW_PERSONAL_DATA, Permission.OPEN_INCIDENT, Permission.HANDLE_LEADS, Permission.VIEW_MEDIATION,
        Permission.OPEN_MEDIATION, Permission.VIEW_EVALUATION, Permission.VIEW_DUTIES, Permission.TICK_DUTIES}),
    Role.CHIEF: frozenset(_COMMON | {
        Permission.VIEW_ALL_STATIONS, Permission.OPEN_INCIDENT, Permission.VIEW_REPORTS, Permission.VIEW_AUDIT,
        Permission.RUN_RISK, Permission.VIEW_REVISITS, Permission.ADD_REVISITS, Permission.DRAW_REVISITS,
        Permission.VIEW_SUPERVISION, Permission.RESPOND_SUPERVISION, Permission.ISSUE_NOTICES,
        Permission.VIEW_MEDIATION, Permission.VIEW_DUTIES, Permission.VIEW_EVALUATION, Permission.VIEW_SCORES,
        Permission.VIEW_STATION_SCORES}),
    # The station's picture and its figures, the escalations and notices it must answer; dispatch stays with the hall.
    Role.STATION_CHIEF: frozenset(_COMMON | {
        Permission.OPEN_INCIDENT, Permission.VIEW_SUPERVISION, Permission.RESPOND_SUPERVISION,
        Permission.REPORT_NOTICES, Permission.VIEW_MEDIATION, Permission.VIEW_DUTIES, Permission.TICK_DUTIES,
        Permission.VIEW_EVALUATION, Permission.VIEW_SCORES, Permission.VIEW_STATION_SCORES}),
    # The wall shows stations' scores, never a person's.
    Role.SCREEN: frozenset({Permission.VIEW_MAP, Permission.FOLLOW_LIVE, Permission.VIEW_ALL_STATIONS,
                            Permission.WATCH_CAMERAS, Permission.VIEW_EVALUATION, Permission.VIEW_STATION_SCORES}),
    Role.ADMIN: frozenset({Permission.MANAGE_USERS, Permission.VIEW_AUDIT}),
    Role.GRID_WORKER: frozenset({Permission.FOLLOW_LIVE, Permission.WORK_GRID_TASKS, Permission.TAKE_TASK_STEPS,
                                 Permission.VIEW_DUTIES, Permission.TICK_DUTIES, Permission.VIEW_EVALUATION}),
    Role.VOLUNTEER: frozenset({Permission.FOLLOW_LIVE, Permission.TAKE_TASK_STEPS}),
    # District-wide, without the live map: the desk is all the clerk needs.
    Role.REVISIT_CLERK: frozenset({Permission.VIEW_REVISITS, Permission.CALL_REVISITS, Permission.ADD_REVISITS,
                                   Permission.VIEW_ALL_STATIONS}),
    # A mediator sees and works only the cases they are matched to (mediation.service.Scope), and calls the parties.
    Role.MEDIATOR: frozenset({Permission.VIEW_MEDIATION, Permission.MEDIATE, Permission.VIEW_PARTY_NUMBERS,
                              Permission.VIEW_DUTIES, Permission.TICK_DUTIES}),
    Role.MEDIATION_DESK: frozenset({Permission.VIEW_MEDIATION, Permission.OPEN_MEDIATION, Permission.MEDIATE,
                                    Permission.ASSIGN_MEDIATORS, Permission.VIEW_PARTY_NUMBERS,
                                    Permission.VIEW_ALL_STATIONS, Permission.VIEW_DUTIES, Permission.TICK_DUTIES}),
}


@dataclass(frozen=True)
class Viewer:
    """Who is asking: the signed-in person (or screen) behind a request or a socket.

    Implements what Flask-Login expects of a user; its id is the server-side
    session's id, so a session can be ended (logout, idle lock, revocation)
    without touching the user.
    """

    username: str
    role: Role
    session_id: str
    station: str | None = None
    kiosk: str | None = None  # the kiosk token's id, for a big screen
    grids: frozenset[str] = frozenset()  # a grid worker's (or a volunteer's) grids
    csrf: str = field(default="", repr=False)  # the session's CSRF token (read with the session, once)

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return self.session_id

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def works_grid(self, grid: str | None) -> bool:
        """Whether this viewer may take the steps of a task in ``grid``."""
        return self.can(Permission.WORK_GRID_TASKS) and grid is not None and grid in self.grids

    def takes_steps_of(self, task: Mapping[str, Any]) -> bool:
        """Whether this viewer may take the steps of ``task``: its grid's worker, or the volunteer it was handed to."""
        volunteer = task.get("volunteer")
        return self.works_grid(task.get("grid")) or (
            self.can(Permission.TAKE_TASK_STEPS) and bool(volunteer) and volunteer == self.username)

    def sees_station(self, station: str | None) -> bool:
        return self.can(Permission.VIEW_ALL_STATIONS) or (station is not None and station == self.station)
