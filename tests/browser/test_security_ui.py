"""Security as the person at the desk meets it: sign-in, roles, hostile text, the idle lock, sign-out."""

from __future__ import annotations

from dataclasses import replace

import redis
from playwright.sync_api import Page, expect

from auth.roles import Role
from bus import keys
from i18n import text
from layouts.ids import AuthID, DispatchID, LiveID, ScreenID
from settings import Settings
from testkit.accounts import make_user, sign_in_page
from testkit.browser import GRIDS_DRAWN_PROBE
from testkit.entries import incident
from testkit.servers import LiveServer, start_live_server
from tests.browser.test_live import open_live
from tests.browser.test_map import open_map
from urls import URL

HOSTILE = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=1</script>"


def test_sec_ui001_sign_in_page_first_then_the_map(live_server: LiveServer, page: Page) -> None:
    page.goto(live_server.url + "/")
    expect(page).to_have_url(f"{live_server.url}/login?next=%2F")
    username = make_user(live_server.app, Role.DUTY_OFFICER)
    page.fill("#login-username", username)
    page.fill("#login-password", "wrong password")
    page.click("#login-submit")
    expect(page.locator(".login-message")).to_have_text("用户名或密码错误。")
    sign_in_page(page, live_server.url, username)
    expect(page.locator(f"#{AuthID.USER}")).to_contain_text(username)


def test_sec_ui002_hostile_text_in_an_incident_is_shown_as_text_in_the_panel(
    live_server: LiveServer, page: Page, r: redis.Redis, console_errors: list[str]
) -> None:
    open_live(page, live_server)
    r.xadd(keys.INCIDENTS, incident("XSS-1", address=HOSTILE[:200], description=HOSTILE))
    page.locator(f"#{LiveID.FEED} [data-event-id='XSS-1']").click()
    panel = page.locator(f"#{DispatchID.BODY}")
    expect(panel.locator("[data-field='dispatch.field.address']")).to_have_text(HOSTILE[:200])
    expect(panel.locator("[data-field='dispatch.field.description']")).to_have_text(HOSTILE)
    assert page.evaluate("() => window.__pwned === undefined")
    assert page.locator("#dispatch-body img, #live-feed img").count() == 0
    assert console_errors == []  # nothing was blocked by the CSP either: nothing tried to run


def test_sec_ui003_a_chief_reads_but_cannot_dispatch(live_server: LiveServer, page: Page, r: redis.Redis) -> None:
    open_live(page, live_server, role=Role.CHIEF)
    r.xadd(keys.INCIDENTS, incident("CHIEF-1"))
    page.locator(f"#{LiveID.FEED} [data-event-id='CHIEF-1']").click()
    panel = page.locator(f"#{DispatchID.BODY}")
    expect(panel.locator(".incident-id")).to_have_text("CHIEF-1")
    expect(panel.locator("[data-field='dispatch.field.caller']")).to_have_text("138******78")
    expect(panel).to_contain_text("当前角色只能查看")
    assert page.locator(f"#{DispatchID.SEND}").count() == 0


def test_sec_ui004_idle_page_locks_itself(settings: Settings, page: Page) -> None:
    server = start_live_server(replace(settings, idle_lock_minutes=0.05))  # 3 s without input
    try:
        open_map(page, server)
        page.wait_for_url(f"{server.url}/login?why=idle", timeout=20_000)
        expect(page.locator(".login-message")).to_contain_text("无操作")
        assert page.context.request.get(f"{server.url}/_dash-layout").status == 401
    finally:
        server.stop()


def test_sec_ui005_sign_out_ends_the_session(live_server: LiveServer, page: Page) -> None:
    open_map(page, live_server)
    page.click(f"#{AuthID.LOGOUT}")
    page.wait_for_url(f"{live_server.url}/login?why=logout")
    page.goto(live_server.url + "/")
    expect(page).to_have_url(f"{live_server.url}/login?next=%2F")


# Holds the sign-out's answer forever (the server has already ended the session) and, once the server has
# answered, makes one more request of the page's own: it is refused before the sign-out's answer arrives.
HOLD_LOGOUT_ANSWER = """
(() => {
  const realFetch = window.fetch;
  window.fetch = function (target, init) {
    const answer = realFetch.call(this, target, init);
    if (!String(target).endsWith("/logout")) { return answer; }
    return answer.then(() => {
      const touch = document.getElementById("auth-config").getAttribute("data-touch-url");
      window.pingan.auth.post(touch).then(window.pingan.auth.check);
      return new Promise(() => {});
    });
  };
})();
"""


def test_sec_ui005b_a_request_refused_during_sign_out_still_says_signed_out(
    live_server: LiveServer, page: Page
) -> None:
    # CI's race: the live feed's acknowledgement was refused (401) before the sign-out's own reply came back,
    # and the page left for the sign-in page without saying why. Whichever request is refused first (that
    # touch, or the feed's own acknowledgement), the page must say the officer signed out.
    page.add_init_script(HOLD_LOGOUT_ANSWER)
    open_map(page, live_server)
    page.click(f"#{AuthID.LOGOUT}")
    page.wait_for_url(f"{live_server.url}/login?why=logout")
    expect(page.locator(".login-message")).to_have_text(text("login.ended.logout", "zh-CN"))


def test_sec_ui006_big_screen_signs_in_by_kiosk_token_and_only_watches(
    live_server: LiveServer, page: Page, r: redis.Redis, console_errors: list[str]
) -> None:
    _, token = live_server.app.security.users.issue_kiosk_token("command hall wall", "test")
    page.add_init_script(GRIDS_DRAWN_PROBE)
    page.goto(f"{live_server.url}/kiosk/{token}")
    page.wait_for_url(f"{live_server.url}{URL.SCREEN}")  # a wall's link lands on the big screen
    page.wait_for_function("() => window.__gridsDrawnAt !== null")
    expect(page.locator(f"#{ScreenID.FEED}")).to_have_class("screen-feed live")
    r.xadd(keys.INCIDENTS, incident("WALL-1"))
    page.wait_for_function("() => window.pingan.live.state.incidents.has('WALL-1')")
    assert page.evaluate("() => !('caller' in window.pingan.live.state.incidents.get('WALL-1').data)")
    assert page.locator(f"#{AuthID.LOGOUT}").count() == 0
    # The officers' page, read-only for the wall's session.
    page.goto(f"{live_server.url}/")
    page.wait_for_function("() => window.pingan.live.state.incidents.has('WALL-1')")
    page.locator(f"#{LiveID.FEED} [data-event-id='WALL-1']").click()
    expect(page.locator(f"#{DispatchID.BODY}")).to_have_text(text("dispatch.empty", "zh-CN"))
    assert page.locator(f"#{AuthID.LOGOUT}").count() == 0
    assert console_errors == []
