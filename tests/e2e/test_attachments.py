"""Files in the web chat (issue 23), in Chromium against the local stack and its embedded S3: a
photo sent from one page shows as an image in another and its link downloads the very bytes
sent (a real PNG made here), a file as a chip that downloads, several files in one message
(the picker, a drop on the chat, a pasted image), a file over 25 MiB and an 11th file refused
before any request, an upload that fails (its POST aborted by the test) shown as an error with
nothing sent, and a canceled upload left out of the message. The sender is on a phone and on a
desktop where it matters. Every wait is for a condition of the page."""

from __future__ import annotations

import json
import re
import struct
import urllib.parse
import zlib
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from playwright.sync_api import Page, Route, expect

from tests.e2e.pages import (
    DESKTOP,
    DEVICES,
    PHONE,
    accept_next_dialog,
    chat_item,
    choose,
    create_chat,
    hide,
    open_chat,
    send,
    unique,
    wait_for_notifications,
    watch_notifications,
)

BUCKET = "/chat-local-attachments"  # the stack's bucket, path-style: uploads POST to it


def png(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    """A real PNG (RGB, a gradient), so the browser decodes it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00"
        + bytes(
            ((x * 4 + seed) % 256, (y * 5) % 256, (x + y + seed) % 256)[c]
            for x in range(width)
            for c in range(3)
        )
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def record_frames(frames: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    """A ``before_load``: every frame the page sends on its WebSocket, parsed, into ``frames``."""

    def before_load(page: Page) -> None:
        page.on(
            "websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(json.loads(payload)))
        )

    return before_load


def actions(frames: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("action") == action]


def two_in_a_chat(
    as_user, sender_device: dict[str, Any], title: str, frames: list[dict[str, Any]] | None = None
):  # type: ignore[no-untyped-def]
    """Alice (on ``sender_device``) made a chat with Bob (a desktop), both viewing it."""
    alice_id, bob_id = unique("alice"), unique("bob")
    before = record_frames(frames) if frames is not None else None
    alice = as_user(alice_id, before_load=before, **sender_device)
    bob = as_user(bob_id, **DESKTOP)
    create_chat(alice, bob_id, title)
    open_chat(bob, title)
    return alice, bob, alice_id


def attach(page: Page, *files: tuple[str, str, bytes]) -> None:
    """Choose files with the attach button's picker."""
    page.set_input_files("#attach-input", [{"name": n, "mimeType": t, "buffer": b} for n, t, b in files])


def uploaded(page: Page, name: str) -> None:
    expect(page.locator(f'#attach-tray .upload.is-done[data-name="{name}"]')).to_be_visible(timeout=30_000)


@pytest.fixture(params=sorted(DEVICES))
def device(request):  # type: ignore[no-untyped-def]
    return DEVICES[request.param]


def test_a_photo_shows_as_an_image_for_the_other_member_and_downloads_the_same_bytes(
    as_user, device, screenshot
):
    alice, bob, alice_id = two_in_a_chat(as_user, device, "Photos")
    photo = png(seed=7)
    attach(alice, ("beach.png", "image/png", photo))
    uploaded(alice, "beach.png")
    alice.click("#send-btn")  # no text: a file is a message
    expect(alice.locator("#attach-tray")).to_be_hidden()

    image = bob.locator("#messages .msg .thumb img")
    expect(image).to_have_count(1)
    expect(image).to_have_attribute("alt", "beach.png")
    bob.wait_for_function(
        "img => img.complete && img.naturalWidth === 64 && img.naturalHeight === 48",
        arg=image.element_handle(),
    )
    url = image.get_attribute("src")
    assert url and url.startswith("http://127.0.0.1:"), url
    assert requests.get(url, timeout=30).content == photo  # the link downloads the very bytes sent
    expect(chat_item(bob, "Photos").locator(".preview")).to_have_text(f"{alice_id}: 📎 beach.png")
    screenshot(bob, "image")

    # Full size in the viewer, and closed again.
    bob.locator("#messages .thumb").click()
    expect(bob.locator("#viewer")).to_be_visible()
    expect(bob.locator("#viewer-img")).to_have_attribute("src", url)
    expect(bob.locator("#viewer-download")).to_have_attribute("href", url)
    screenshot(bob, "viewer")
    bob.keyboard.press("Escape")
    expect(bob.locator("#viewer")).to_be_hidden()

    # The sender's own bubble ends with the server's link (not the local copy), as on a reload.
    own = alice.locator("#messages .msg.mine:not(.pending) .thumb img")
    expect(own).to_have_attribute("src", re.compile(r"^http://127\.0\.0\.1:\d+/chat-local-attachments/"))
    assert requests.get(own.get_attribute("src") or "", timeout=30).content == photo


def test_a_file_is_a_chip_with_name_type_and_size_that_downloads(as_user):
    alice, bob, _ = two_in_a_chat(as_user, DESKTOP, "Papers")
    notes = b"minutes of the meeting\n" * 200  # 4,600 bytes
    attach(alice, ("minutes.txt", "text/plain", notes))
    uploaded(alice, "minutes.txt")
    send(alice, "the notes")

    message = bob.locator("#messages .msg", has=bob.locator(".text", has_text="the notes"))
    chip = message.locator(".file-chip")
    expect(chip.locator(".file-name")).to_have_text("minutes.txt")
    expect(chip.locator(".file-type")).to_have_text("text/plain")
    expect(chip.locator(".file-size")).to_have_text("4.5 KB")
    expect(message.locator(".thumb")).to_have_count(0)
    with bob.expect_download() as download:
        chip.click()
    assert download.value.suggested_filename == "minutes.txt"
    with open(download.value.path(), "rb") as saved:
        assert saved.read() == notes

    # A deleted message shows no files, and its file is gone from the bucket.
    link = chip.get_attribute("href") or ""
    assert stored(link)
    accept_next_dialog(alice)
    choose(alice, alice.locator("#messages .msg", has=alice.locator(".text", has_text="the notes")), "Delete")
    for page in (alice, bob):
        expect(page.locator("#messages .msg.deleted")).to_have_count(1)
        expect(page.locator("#messages .files")).to_have_count(0)
    assert not stored(link)


def stored(link: str) -> bool:
    """Whether the bucket holds the object a download link names (asked of the stack's S3)."""
    parts = urllib.parse.urlsplit(link)
    bucket, key = parts.path.lstrip("/").split("/", 1)
    s3 = boto3.client(
        "s3",
        endpoint_url=f"{parts.scheme}://{parts.netloc}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    try:
        s3.head_object(Bucket=bucket, Key=urllib.parse.unquote(key))
    except ClientError as err:
        assert err.response["Error"]["Code"] in ("404", "NoSuchKey"), err.response
        return False
    return True


def test_a_files_only_message_notifies_with_the_first_file_name(as_user, stack_url):
    alice_id, bob_id = unique("alice"), unique("bob")
    alice = as_user(alice_id, **DESKTOP)
    bob = as_user(bob_id, before_load=watch_notifications(stack_url), **DESKTOP)
    create_chat(alice, bob_id, "Trip")
    open_chat(bob, "Trip")
    hide(bob)
    attach(alice, ("map.png", "image/png", png()), ("tickets.pdf", "application/pdf", b"%PDF-1.4 tickets"))
    uploaded(alice, "map.png")
    uploaded(alice, "tickets.pdf")
    alice.click("#send-btn")
    shown = wait_for_notifications(bob, 1)
    assert (shown[0]["title"], shown[0]["body"]) == ("Trip", f"{alice_id}: 📎 map.png")


def test_several_files_in_one_message_from_the_picker_a_drop_and_a_paste(as_user, screenshot):
    frames: list[dict[str, Any]] = []
    alice, bob, _ = two_in_a_chat(as_user, DESKTOP, "Album", frames)
    first, pasted = png(seed=1), png(32, 32, seed=2)
    attach(alice, ("one.png", "image/png", first))
    # A file dropped on the conversation, and an image pasted into the box (a screenshot).
    alice.evaluate(
        """([pdf, shot]) => {
          const drop = new DataTransfer();
          drop.items.add(new File([pdf], "report.pdf", { type: "application/pdf" }));
          const area = document.querySelector("#messages");
          for (const type of ["dragenter", "dragover", "drop"])
            area.dispatchEvent(new DragEvent(type, { dataTransfer: drop, bubbles: true, cancelable: true }));
          const clip = new DataTransfer();
          clip.items.add(new File([new Uint8Array(shot)], "image.png", { type: "image/png" }));
          document.querySelector("#composer-input").dispatchEvent(
            new ClipboardEvent("paste", { clipboardData: clip, bubbles: true, cancelable: true }));
        }""",
        ["%PDF-1.4 a small report", list(pasted)],
    )
    for name in ("one.png", "report.pdf", "image.png"):
        uploaded(alice, name)
    expect(alice.locator("#composer-input")).to_have_value("")  # the paste added no text
    send(alice, "three files")

    message = bob.locator("#messages .msg", has=bob.locator(".text", has_text="three files"))
    expect(message.locator(".files > *")).to_have_count(3)
    expect(message.locator(".thumb img")).to_have_count(2)
    expect(message.locator(".thumb img").first).to_have_attribute("alt", "one.png")  # the order sent
    expect(message.locator(".thumb img").last).to_have_attribute("alt", "image.png")
    expect(message.locator(".file-chip .file-name")).to_have_text("report.pdf")
    screenshot(bob, "three")
    assert (
        requests.get(message.locator(".thumb img").last.get_attribute("src") or "", timeout=30).content
        == pasted
    )
    sends = actions(frames, "message.send")
    assert len(sends) == 1 and len(sends[0]["attachments"]) == 3, sends


def test_too_large_and_an_eleventh_file_are_refused_before_any_request(as_user, stack_url):
    frames: list[dict[str, Any]] = []
    alice, _, _ = two_in_a_chat(as_user, PHONE, "Big", frames)
    posts: list[str] = []
    alice.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    alice.evaluate(
        """() => {
          const picked = new DataTransfer();
          picked.items.add(new File([new Uint8Array(26214401)], "huge.mov", { type: "video/quicktime" }));
          const input = document.querySelector("#attach-input");
          input.files = picked.files;
          input.dispatchEvent(new Event("change", { bubbles: true }));
        }"""
    )
    expect(alice.locator("#toast")).to_contain_text(
        "huge.mov is too large (25 MB, 26,214,401 bytes): files can be at most 25 MB (26,214,400 bytes)"
    )
    expect(alice.locator("#attach-tray")).to_be_hidden()
    assert actions(frames, "attachment.create") == []

    attach(alice, *[(f"f{i}.txt", "text/plain", f"file {i}".encode()) for i in range(11)])
    expect(alice.locator("#toast")).to_contain_text(
        "f10.txt was left out: a message can carry at most 10 files"
    )
    expect(alice.locator("#attach-tray .upload")).to_have_count(10)
    for i in range(10):
        uploaded(alice, f"f{i}.txt")
    assert len(actions(frames, "attachment.create")) == 10
    assert not any("huge" in url for url in posts)
    assert len([url for url in posts if BUCKET in url]) == 10


def hold_uploads(page: Page, held: list[Route], names: tuple[str, ...] | None = None) -> None:
    """Uploads of these files (all: None) to the bucket wait until the test settles them."""

    def handle(route: Route) -> None:
        body = route.request.post_data_buffer or b""
        if route.request.method == "POST" and (
            names is None or any(f'filename="{n}"'.encode() in body for n in names)
        ):
            held.append(route)  # neither continued nor aborted: the upload is in flight
        else:
            route.continue_()

    page.route(lambda url: BUCKET in url, handle)


@pytest.mark.parametrize("where", ["tray", "message"])
def test_a_failed_upload_is_an_error_and_nothing_is_sent(as_user, where):
    frames: list[dict[str, Any]] = []
    alice, bob, _ = two_in_a_chat(as_user, DESKTOP, "Lossy", frames)
    held: list[Route] = []
    hold_uploads(alice, held)
    with alice.expect_request(lambda r: BUCKET in r.url and r.method == "POST"):
        attach(alice, ("plan.png", "image/png", png()))
    expect(alice.locator("#attach-tray .upload progress")).to_be_visible()
    alice.fill("#composer-input", "see the plan")
    if where == "message":
        alice.click("#send-btn")  # waits for the upload in a pending bubble
        expect(alice.locator("#messages .msg.pending .upload progress")).to_be_visible()
    assert held, "the upload did not reach the bucket's route"
    held[0].abort("connectionfailed")  # the network drops the upload

    error = "plan.png was not uploaded: the file store could not be reached"
    if where == "tray":
        expect(alice.locator("#attach-tray .upload.is-failed .upload-error")).to_have_text(error)
        alice.click("#send-btn")
        expect(alice.locator("#toast")).to_have_text(
            "Not sent: remove the files that did not upload, or attach them again"
        )
        expect(alice.locator("#composer-input")).to_have_value("see the plan")  # kept to try again
        alice.locator("#attach-tray .upload-cancel").click()
        expect(alice.locator("#attach-tray")).to_be_hidden()
    else:
        expect(alice.locator("#messages .msg.pending .upload.is-failed .upload-error")).to_have_text(error)
        expect(alice.locator("#toast")).to_have_text(f"Not sent: {error}")
        expect(alice.locator("#messages .msg.pending .tick")).to_have_attribute("data-status", "failed")
    assert actions(frames, "message.send") == []

    # Nothing reached Bob: the next message is the first he gets.
    send(alice, "next one")
    expect(bob.locator("#messages .msg")).to_have_count(1)
    expect(bob.locator("#messages .msg .text")).to_have_text("next one")
    expect(bob.locator("#messages .files")).to_have_count(0)


@pytest.mark.parametrize("device_name", sorted(DEVICES))
def test_a_canceled_upload_is_left_out_and_the_message_waits_for_the_others(as_user, device_name, screenshot):
    frames: list[dict[str, Any]] = []
    alice, bob, _ = two_in_a_chat(as_user, DEVICES[device_name], "Cancel", frames)
    held: list[Route] = []
    hold_uploads(alice, held, names=("slow.bin", "gone.bin"))

    # In the tray: canceled before sending.
    attach(alice, ("gone.bin", "application/octet-stream", b"g" * 5000))
    expect(alice.locator('#attach-tray .upload[data-name="gone.bin"] progress')).to_be_visible()
    alice.locator('#attach-tray .upload-cancel[aria-label="Cancel gone.bin"]').click()
    expect(alice.locator("#attach-tray")).to_be_hidden()

    # In a message waiting for its uploads: one done, one held; the message is not sent yet.
    attach(
        alice, ("quick.txt", "text/plain", b"quick"), ("slow.bin", "application/octet-stream", b"s" * 9000)
    )
    uploaded(alice, "quick.txt")
    send(alice, "two files, one slow")
    pending = alice.locator("#messages .msg.pending")
    expect(pending.locator('.upload.is-done[data-name="quick.txt"]')).to_be_visible()
    expect(pending.locator('.upload[data-name="slow.bin"] progress')).to_be_visible()
    assert actions(frames, "message.send") == []  # sent only when every upload is done
    screenshot(alice, "waiting")
    pending.locator('.upload-cancel[aria-label="Cancel slow.bin"]').click()

    message = bob.locator("#messages .msg", has=bob.locator(".text", has_text="two files, one slow"))
    expect(message.locator(".file-chip .file-name")).to_have_text(["quick.txt"])
    expect(alice.locator("#messages .msg.pending")).to_have_count(0)
    sends = actions(frames, "message.send")
    assert len(sends) == 1 and len(sends[0]["attachments"]) == 1, sends
    assert len(actions(frames, "attachment.create")) == 3


def test_an_image_whose_link_fails_to_load_gets_a_fresh_link(as_user):
    alice, bob, _ = two_in_a_chat(as_user, DESKTOP, "Stale")
    failed: list[str] = []

    def first_fails(route: Route) -> None:
        if route.request.method == "GET" and not failed:
            failed.append(route.request.url)
            route.abort()  # as an expired link is refused
        else:
            route.continue_()

    bob.route(lambda url: BUCKET in url, first_fails)
    photo = png(seed=3)
    attach(alice, ("old.png", "image/png", photo))
    uploaded(alice, "old.png")
    alice.click("#send-btn")

    image = bob.locator("#messages .msg .thumb img")
    expect(image).to_have_count(1)
    bob.wait_for_function(  # the element may be a new one, with the new link
        "() => { const img = document.querySelector('#messages .msg .thumb img');"
        " return img && img.complete && img.naturalWidth === 64; }"
    )
    assert failed, "the first load of the image was not refused"
    assert requests.get(image.get_attribute("src") or "", timeout=30).content == photo
