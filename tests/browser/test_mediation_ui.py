"""The mediation centre in Chromium, as its people use it: the duty officer takes a household's repeat-call lead
from the leads board to the triage form; the matched mediator reaches both parties, records the session and
its agreement; a member of the public applies online without an account; the desk finds the application
waiting for triage. Screenshots of the case page and the public form are kept in tests/artifacts."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import insert

import clock
from app import PinganApp
from auth.roles import Role
from mediation.identity import id_check_character
from risk.rules import Finding
from settings import PROJECT_ROOT
from store.db import incidents
from testkit.accounts import make_user, sign_in_page
from testkit.browser import new_context
from testkit.servers import LiveServer

SCREENSHOTS = PROJECT_ROOT / "tests" / "artifacts"
GRID = "SC-001"  # station PS-01
ADDRESSES = ("朔城区康乐小区3号楼2单元501室", "开发路康乐小区3栋2单元501", "康乐小区 3-2-501")


def household_lead(app: PinganApp) -> str:
    """Three family-dispute calls from one flat written three ways, and the lead the rules made of them."""
    now = clock.now()
    with app.engine.begin() as conn:
        for n, address in enumerate(ADDRESSES):
            conn.execute(insert(incidents).values(
                event_id=f"HH-{n}", stream_id="0-1", reported_at=now - timedelta(days=3 - n), ingested_at=now,
                lon=112.43, lat=39.33, grid=GRID, category="family_dispute", priority=2, address=address,
                description="夫妻因彩礼争吵", caller="13912345678", source="110", status="closed", history=True))
        finding = Finding("family_repeat", GRID, "high", "hh-ui", ("HH-0", "HH-1", "HH-2"), {"count": 3, "days": 7})
        [lead] = app.risk.leads.create_in(conn, [finding], now)
    return str(lead["lead_id"])


def test_mediation_ui001_a_households_lead_becomes_a_case_its_mediator_takes_to_an_agreement(
    live_server: LiveServer, page: Page, browser: Browser, console_errors: list[str]
) -> None:
    app = live_server.app
    lead_id = household_lead(app)
    duty = make_user(app, Role.DUTY_OFFICER)
    sign_in_page(page, live_server.url, duty)
    card = page.locator(f"#leads-list li[data-lead-id='{lead_id}']")
    link = card.locator("a.lead-mediate")
    expect(link).to_have_text("转调解（分流评估）")
    with page.context.expect_page() as opened:
        link.click()
    form = opened.value
    expect(form.locator("#mediation-origin")).to_have_text(f"来自预警线索 {lead_id}")
    form.fill("input[name='applicant_name']", "刘秀英")
    form.fill("input[name='respondent_name']", "王建国")
    form.fill("input[name='respondent_phone']", "13698765432")
    form.locator("#mediation-triage button[type='submit']").click()
    expect(form.locator("#mediation-record")).to_have_attribute("data-stage", "assigned")
    links = form.locator("#mediation-links tr[data-kind='incident']")
    expect(links).to_have_count(3)  # the household's three calls, however their address was written
    case_id = form.url.rsplit("/", 1)[1]
    lead_mediator = app.mediation.team(case_id)[0]

    mediator_context = new_context(browser)
    mediator = mediator_context.new_page()
    mediator.on("pageerror", lambda exc: console_errors.append(str(exc)))
    make_user(app, Role.MEDIATOR, username=lead_mediator["username"])
    sign_in_page(mediator, live_server.url, lead_mediator["username"], then="/mediation")
    expect(mediator.locator(f"#mediation-open tr[data-case-id='{case_id}']")).to_have_count(1)
    mediator.locator(f"#mediation-open a[href$='{case_id}']").click()
    contact = mediator.locator("#mediation-step-contact")
    contact.locator("input[name='remote']").check()
    contact.locator("input[name='meeting_link']").fill("https://meeting.example.cn/r/kangle")
    contact.locator("select[name='identity']").select_option("video")
    contact.locator("button[type='submit']").click()
    session = mediator.locator("#mediation-step-session")
    for step, words in (("claims", "女方要求返还彩礼三万元"), ("dispute", "争议在返还金额和期限"),
                        ("plan", "男方七日内返还两万五千元"), ("consensus", "双方同意")):
        session.locator(f"textarea[name='{step}']").fill(words)
    session.locator("textarea[name='agreement']").fill("男方于七日内一次性返还彩礼两万五千元，双方不再因此发生纠纷。")
    session.locator("input[name='sign_applicant']").fill("刘秀英")
    session.locator("input[name='sign_respondent']").fill("王建国")
    session.locator("button[type='submit']").click()
    expect(mediator.locator("#mediation-record")).to_have_attribute("data-stage", "fulfilling")
    expect(mediator.locator(".signature")).to_have_count(2)
    expect(mediator.locator("#mediation-clocks tr[data-clock='handover'] .met")).to_have_text("按时")
    expect(mediator.locator("#mediation-agreement-pdf")).to_be_visible()
    mediator.screenshot(path=str(SCREENSHOTS / "mediation-case.png"), full_page=True)
    mediator_context.close()
    assert console_errors == []


def test_mediation_ui002_the_public_applies_online_and_the_desk_finds_it_waiting_for_triage(
    live_server: LiveServer, page: Page, browser: Browser, console_errors: list[str]
) -> None:
    first17 = "14060219850312123"
    page.goto(f"{live_server.url}/mediation/apply")
    form = page.locator("#mediation-apply")
    form.locator("input[name='applicant_name']").fill("刘秀英")
    form.locator("input[name='applicant_id']").fill(first17 + id_check_character(first17))
    form.locator("input[name='applicant_phone']").fill("13912345678")
    form.locator("input[name='respondent_name']").fill("王建国")
    form.locator("select[name='case_type']").select_option("debt")
    form.locator("input[name='address']").fill("朔城区康乐小区3号楼2单元501室")
    form.locator("textarea[name='description']").fill("借款三万元逾期未还 <img src=x onerror=alert(1)>")
    form.locator("input[name='remote']").check()
    page.screenshot(path=str(SCREENSHOTS / "mediation-apply.png"), full_page=True)
    form.locator("button[type='submit']").click()
    receipt = page.locator("#apply-receipt")
    expect(receipt).to_have_attribute("data-merged", "no")
    case_id = receipt.get_attribute("data-case-id")
    page.screenshot(path=str(SCREENSHOTS / "mediation-applied.png"))

    desk_context = new_context(browser)
    desk = desk_context.new_page()
    desk.on("pageerror", lambda exc: console_errors.append(str(exc)))
    sign_in_page(desk, live_server.url, make_user(live_server.app, Role.MEDIATION_DESK), then="/mediation")
    row = desk.locator(f"#mediation-open tr[data-case-id='{case_id}']")
    expect(row).to_contain_text("待分流")
    row.locator("a").first.click()
    expect(desk.locator("#mediation-record .summary")).to_have_text("借款三万元逾期未还 <img src=x onerror=alert(1)>")
    expect(desk.locator("#mediation-parties tr[data-side='applicant'] .phone")).to_have_text("139****5678")
    desk.locator("#mediation-show-numbers button").click()
    expect(desk.locator("#mediation-parties tr[data-side='applicant'] .phone")).to_have_text("13912345678")
    desk_context.close()
    assert console_errors == []
