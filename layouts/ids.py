"""Every component ID in the page, defined once.

Layouts, callbacks and browser tests all refer to these members; none spells an
ID inline.
"""

from __future__ import annotations

from enum import StrEnum


class ID(StrEnum):
    """Component IDs (their values are also the DOM ids tests select by)."""

    CLOCK = "clock"
    CLOCK_TICK = "clock-tick"
    MAP = "map"
    GRID_LAYER = "grid-layer"
    STATION_LAYER = "station-layer"
    DISTRICT_LAYER = "district-layer"
    TILE_LAYER = "tile-layer"
    DETAILS_PANEL = "details-panel"
    DETAILS_BODY = "details-body"
    DETAILS_CLOSE = "details-close"
    DETAILS_RISK = "details-risk"
    SELECTED_GRID = "selected-grid"
    LAYERS = "layers-control"
    DEVICE_LAYER = "device-layer"
    COMPOUND_LAYER = "compound-layer"


class LiveID(StrEnum):
    """IDs of the live layer: socket, feed, markers, status."""

    SOCKET = "live-socket"
    TICK = "live-tick"
    STATUS = "live-status"
    DEAD_LETTERS = "live-dead-letters"
    FEED = "live-feed"
    FEED_COUNT = "live-feed-count"
    GRID_LIVE = "grid-live-count"
    TEXTS = "live-texts"


class DispatchID(StrEnum):
    """IDs of the dispatch panel and the open-instructions list."""

    PANEL = "dispatch-panel"
    BODY = "dispatch-body"
    INCIDENT = "dispatch-incident"  # store: the incident being dispatched (set by clicks on the map/feed)
    UNITS = "dispatch-units"
    TEXT = "dispatch-text"
    SEND = "dispatch-send"
    DIVERT = "dispatch-divert"
    MESSAGE = "dispatch-message"
    KEY = "dispatch-key"  # store: the idempotency key of the current send
    ACTION = "dispatch-action"  # store: {instruction_id, action} from the open-instructions list
    REPLACES = "dispatch-replaces"  # store: the instruction a send will reassign (or none)
    SENT = "dispatch-sent"  # store: what the last answered send reassigned (ends that reassign mode only)
    REASSIGN_NOTE = "dispatch-reassign-note"
    STATE = "dispatch-state"  # where the incident stands: follows the live state
    FORM = "dispatch-form"  # units and the instruction to send
    MODE = "dispatch-mode"  # store: what the form offers (send / add / finished)
    REFRESH = "dispatch-refresh"  # store: bumped by the page script when the panel's incident moves
    INSTRUCTIONS = "instructions-list"
    BREACHES = "instructions-breaches"
    CAMERAS = "dispatch-cameras"  # the cameras near the incident (the page script fills it: pingan_video.js)
    EVIDENCE = "dispatch-evidence"  # the snapshot of the alert the incident was raised from


class AuthID(StrEnum):
    """IDs of the signed-in person's corner of the header."""

    USER = "auth-user"
    LOGOUT = "auth-logout"
    CONFIG = "auth-config"  # carries the idle-lock minutes for assets/pingan_auth.js


class AlertID(StrEnum):
    """IDs of the sensor-alert queue (its cards are drawn by assets/pingan_alerts.js)."""

    QUEUE = "alert-queue"
    LIST = "alert-list"
    COUNT = "alert-count"
    BREACHES = "alert-breaches"
    ACTION = "alert-action"  # store: {event_id, verdict, reason} set by a card's button
    MESSAGE = "alert-message"


class RiskID(StrEnum):
    """IDs of the risk heatmap controls and the leads board (its rows are drawn by assets/pingan_risk.js)."""

    WINDOW = "risk-window"
    VERSION = "risk-version"  # store: bumped by the page script when new grades arrive
    DENSITY_LAYER = "density-layer"
    BOARD = "leads-board"
    LIST = "leads-list"
    COUNT = "leads-count"
    RUN = "risk-run"
    MESSAGE = "leads-message"
    ACTION = "lead-action"  # store: {lead_id, action, result} set by a row's button


class IndicatorID(StrEnum):
    """IDs of the chiefs' indicators view (tiles and charts are drawn from pushed figures)."""

    VIEW = "indicators-view"
    TOGGLE = "indicators-toggle"  # the header button switching between the map and the indicators
    SHOWN = "indicators-shown"  # store: whether the indicators view is showing
    VERSION = "indicators-version"  # store: bumped by the page script when new figures arrive
    SCOPE = "indicators-scope"  # the district or one station
    ASOF = "indicators-asof"
    TILES = "indicators-tiles"
    TREND = "indicators-trend"
    CATEGORIES = "indicators-categories"
    ARRIVAL = "indicators-arrival"
    RESULT = "indicators-result"
    GAUGES = "indicators-gauges"
    STATIONS = "indicators-stations"  # one row per station; a click drills into its grids
    GRIDS = "indicators-grids"  # the selected station's grids (computed on request)


class ScreenID(StrEnum):
    """IDs of the command-hall big screen (``/screen/``)."""

    ROOT = "screen-root"
    CLOCK = "screen-clock"
    FEED = "screen-feed"  # the freshness of the data: live, stale, reconnecting
    TILES = "screen-tiles"
    NEWEST = "screen-newest"  # the newest high-priority event, highlighted
    OVERDUE = "screen-overdue"
    TREND = "screen-trend"
    GAUGES = "screen-gauges"
    TICKER = "screen-ticker"
    VIDEO = "screen-video"  # the scene video: the tile following the newest urgent event, and the wall's set


class TaskID(StrEnum):
    """IDs of the hall's grid-task list (the page script fills it)."""

    PANEL = "grid-tasks-panel"
    LIST = "grid-task-list"


class SupervisionID(StrEnum):
    """IDs of the hall's supervision board (open escalations; the page script fills it)."""

    PANEL = "supervision-panel"
    LIST = "supervision-list-live"
    COUNT = "supervision-count"
    SUMMARY = "supervision-summary"  # the week's Monday summary: who is below target


class PhoneID(StrEnum):
    """IDs of a grid worker's phone page (``/m/``): the page script fills the list."""

    ROOT = "phone-root"
    STATUS = "phone-status"
    LIST = "phone-tasks"
    MESSAGE = "phone-message"
    ACTION = "phone-action"  # the step the worker took, for the server callback
    VOLUNTEERS = "phone-volunteers"  # data-volunteers: the volunteers of the worker's grids (hand a task to one)


class MapTaskID(StrEnum):
    """IDs of the grid workers' tasks on the hall's map (the page script draws the markers)."""

    LAYER = "grid-task-layer"  # the overlay's layer group (assets/pingan_map.js: taskLayerAdded)
