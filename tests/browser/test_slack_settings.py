"""A system's owners connect it to Slack from its form: the bot token is taken and never shown
again, the channel is, and the form says where incidents are posted."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from governance.models import AuditEvent

pytestmark = pytest.mark.browser

TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"


def test_an_owner_connects_the_system_to_a_slack_channel(page, screenshot, registrar, fraud):
    browser_page = page(registrar)
    browser_page.goto(f"/systems/{fraud.slug}/edit/")
    browser_page.get_by_label("Slack bot token").fill("xoxp-a-user-token")
    browser_page.get_by_label("Slack channel id").fill("C0FRAUDINC")
    with browser_page.expect_response(lambda r: r.request.method == "POST") as answer:
        browser_page.get_by_role("button", name="Save changes").click()
    assert answer.value.status == 400
    expect(browser_page.locator(".field.has-error")).to_contain_text("starts with xoxb-")
    screenshot(browser_page, "system-form-slack-error.png")

    browser_page.get_by_label("Slack bot token").fill(TOKEN)
    browser_page.get_by_role("button", name="Save changes").click()
    expect(browser_page.get_by_text("Changes saved.")).to_be_visible()
    fraud.refresh_from_db()
    assert fraud.slack_bot_token == TOKEN and fraud.slack_channel_id == "C0FRAUDINC"

    browser_page.goto(f"/systems/{fraud.slug}/edit/")
    expect(browser_page.get_by_test_id("slack-on")).to_contain_text("C0FRAUDINC")
    expect(browser_page.get_by_label("Slack bot token")).to_have_value("")
    assert TOKEN not in browser_page.content()
    browser_page.get_by_label("Slack bot token").scroll_into_view_if_needed()
    screenshot(browser_page, "system-form-slack.png")
    event = AuditEvent.objects.filter(action="system.updated").latest("id")
    assert event.after["posts_to_slack"] is True

    browser_page.get_by_label("Stop posting to Slack").check()
    browser_page.get_by_role("button", name="Save changes").click()
    expect(browser_page.get_by_text("Changes saved.")).to_be_visible()
    fraud.refresh_from_db()
    assert not fraud.slack_bot_token and not fraud.slack_channel_id
