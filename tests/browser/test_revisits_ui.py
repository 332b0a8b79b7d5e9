"""The return-visit desk in Chromium, as the clerk uses it: the list, a visit with its history and the number
to call, a call recorded that reopens the matter."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from auth.roles import Role
from settings import PROJECT_ROOT
from testkit.accounts import make_user, sign_in_page
from testkit.servers import LiveServer
from tests.test_revisit_desk import CALLER, closed_incident

SCREENSHOTS = PROJECT_ROOT / "tests" / "artifacts"


def test_revisits_ui001_the_clerk_calls_back_and_a_persisting_problem_goes_back_to_the_station(
    live_server: LiveServer, page: Page, console_errors: list[str]
) -> None:
    app = live_server.app
    visits = [app.revisits.add("incident", closed_incident(app.engine, f"E-UI-{i}"), reason, "chief-li")
              for i, reason in enumerate(("complaint", "chief", "chief"))]
    app.revisits.record(visits[2]["visit_id"], "clerk-earlier", "satisfied", "已解决")
    clerk = make_user(app, Role.REVISIT_CLERK)
    sign_in_page(page, live_server.url, clerk, then="/revisits")  # the clerk's home

    rows = page.locator("#revisits-list tbody tr[data-visit-id]")
    expect(rows).to_have_count(2)  # the open ones, due first
    expect(rows.first.locator(".contact")).to_have_text("报警人 139******78")
    expect(page.locator("[data-figure='open']")).to_have_text("2")
    page.screenshot(path=str(SCREENSHOTS / "revisits-desk.png"), full_page=True)

    rows.first.locator("a").click()
    expect(page.locator("#revisit-contact a")).to_have_text(CALLER)  # in full, here only (and audited)
    expect(page.locator("#revisit-history tr")).to_have_text([re.compile(r"110\s*报警\s*楼上噪音扰民")])
    page.locator("#revisit-call input[value='persists']").check()
    page.fill("#revisit-call input[name='note']", "夜里仍有噪音")
    page.click("#revisit-call button[type='submit']")
    expect(page.locator("#revisit-result")).to_contain_text("问题仍存在")
    expect(page.locator("#revisit-result .reopened")).to_contain_text("已重新交办 LD-")
    expect(page.locator("#revisit-attempts tr")).to_have_count(1)
    expect(page.locator("#revisit-call")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "revisit-reopened.png"), full_page=True)
    assert console_errors == []
