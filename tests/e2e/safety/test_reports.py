"""Reporting from the web page, and the operator acting on it (issue 24, acceptance 3): a member
reports a message through its menu with a reason; ``python -m chatadmin``, run as the operator
runs it against the same local stack (its DynamoDB URL and management API from the banner),
lists the report, shows it, and resolves it: a delete reaches both pages at once, a removal
takes the sender out of the group in their page too. One's own messages offer no "Report"."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from playwright.sync_api import expect

from tests.e2e.pages import (
    DESKTOP,
    PHONE,
    bubble,
    chat_id_of,
    chat_item,
    choose,
    create_chat,
    menu_offers,
    open_chat,
    send,
    unique,
)
from tests.stack import ROOT

DELETED = "This message was deleted"


def chatadmin(stack, *argv: str, expect_code: int = 0) -> str:
    """``python -m chatadmin`` against the stack, as an operator runs it: no AWS settings but
    the endpoint and the management API the banner prints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHAT_"))}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "chatadmin",
            "--endpoint",
            stack.dynamodb_endpoint,
            "--management",
            stack.url,
            *argv,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == expect_code, done.stderr
    return done.stdout


def report_in_page(page, text: str, reason: str) -> None:
    choose(page, bubble(page, text), "Report")
    dialog = page.locator("#report-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".report-quote")).to_contain_text(text)
    page.locator("#report-reason").fill(reason)
    page.locator("#report-send").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#toast")).to_contain_text("Reported")


def test_the_operator_lists_shows_and_resolves_a_report_made_through_the_web_page(as_user, local_stack):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice, bob = as_user(alice_id, **DESKTOP), as_user(bob_id, **PHONE)
    create_chat(alice, bob_id, "Market")
    open_chat(bob, "Market")
    send(alice, "buy cheap watches")
    send(alice, "see you at ten")
    expect(bubble(bob, "buy cheap watches")).to_be_visible()
    assert menu_offers(alice, bubble(alice, "buy cheap watches"), ["Reply", "React", "Edit", "Delete"]) == [
        "Reply",
        "React",
        "Edit",
        "Delete",
    ]  # one's own message: no Report
    report_in_page(bob, "buy cheap watches", "spam, again")
    chat_id = chat_id_of(alice, "Market")

    listed = json.loads(chatadmin(local_stack, "--json", "reports"))["reports"]
    [report] = [r for r in listed if r["chat_id"] == chat_id]  # the stack is shared with other tests
    assert (report["seq"], report["reporter"], report["reason"]) == (1, bob_id, "spam, again")
    assert report["message"]["text"] == "buy cheap watches" and report["message"]["sender_id"] == alice_id
    assert report["report_id"] in chatadmin(local_stack, "reports")

    shown = chatadmin(local_stack, "show", report["report_id"])
    assert f"Report {report['report_id']} (open)" in shown and "reason      spam, again" in shown
    assert "buy cheap watches  <- reported" in shown and "see you at ten" in shown

    resolved = chatadmin(
        local_stack, "resolve", report["report_id"], "delete", "--note", "spam", "--by", "ops"
    )
    assert "deleted message 1" in resolved and "2 connections told" in resolved
    for page in (alice, bob):  # at once, through the management API: no reload, no reconnect
        expect(page.locator("#messages .msg .text").first).to_have_text(DELETED)
    after = json.loads(chatadmin(local_stack, "--json", "show", report["report_id"]))
    assert after["report"]["status"] == "resolved" and after["message_now"]["deleted"] is True
    assert after["report"]["message"]["text"] == "buy cheap watches"  # the copy stays
    assert [(a["by"], a["action"], a["note"]) for a in after["report"]["actions"]] == [
        ("ops", "delete", "spam")
    ]
    still_open = json.loads(chatadmin(local_stack, "--json", "reports"))["reports"]
    assert report["report_id"] not in [r["report_id"] for r in still_open]


def test_removing_the_sender_takes_them_out_of_the_group_in_their_page(as_user, local_stack):
    alice_id, bob_id, carol_id = unique("alice"), unique("bob"), unique("carol")
    alice, bob = as_user(alice_id, **DESKTOP), as_user(bob_id, **DESKTOP)
    create_chat(alice, f"{bob_id}, {carol_id}", "Club")
    open_chat(bob, "Club")
    send(bob, "you will regret this")
    expect(bubble(alice, "you will regret this")).to_be_visible()
    report_in_page(alice, "you will regret this", "a threat")
    chat_id = chat_id_of(alice, "Club")
    listed = json.loads(chatadmin(local_stack, "--json", "reports"))["reports"]
    [report] = [r for r in listed if r["chat_id"] == chat_id]

    out = chatadmin(local_stack, "resolve", report["report_id"], "remove")
    assert f"removed {bob_id} from chat {chat_id}" in out
    expect(chat_item(bob, "Club")).to_have_count(0)  # chat:removed reached bob's page
    expect(alice.locator("#messages .system").last).to_have_text(f"moderator removed {bob_id}")
