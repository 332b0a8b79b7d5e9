"""The live-event registry is the one contract between publishers and the page scripts."""

from __future__ import annotations

import re

from bus.events import SCRIPT, Live, page_script
from settings import PROJECT_ROOT

PAGE = PROJECT_ROOT / "assets" / "pingan_live.js"


def test_events001_the_page_scripts_copy_is_generated_from_the_registry() -> None:
    assert SCRIPT.read_text(encoding="utf-8") == page_script(), "run `python -m bus.events`"


def test_events002_every_event_type_has_a_handler_on_the_page() -> None:
    handled = set(re.findall(r"handlers\[E\.([A-Z_]+)\]", PAGE.read_text(encoding="utf-8")))
    assert handled == {member.name for member in Live}


def test_events003_no_publisher_names_an_event_type_as_a_bare_string() -> None:
    """Publishers go through the registry: encode()/publish()/queue_event() take a Live member."""
    bare = re.compile(r"(encode|publish|queue_event)\([^)]*?\"(" + "|".join(m.value for m in Live) + r")\"")
    offenders = [str(path.relative_to(PROJECT_ROOT)) for folder in ("bus", "ingest", "push", "dispatch", "sensors",
                                                                     "risk", "indicators", "simulation", "routes")
                 for path in (PROJECT_ROOT / folder).rglob("*.py") if bare.search(path.read_text(encoding="utf-8"))]
    assert not offenders
