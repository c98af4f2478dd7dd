"""Reports of messages (PROTOCOL v3, "Blocking and reporting"): the record an operator reviews,
and the rules of ``message.report``. Pure: no storage, no I/O.

A report is keyed by what it reports and who reports it (``report_id``), so a second report of
the same message by the same user is the same report and changes nothing. It holds a copy of
the message as it was when reported: a later edit or delete of the message leaves it as it was.
An operator resolves it (``python -m chatadmin``); each action they take is appended to
``actions``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from chalicelib.domain.errors import BadRequest
from chalicelib.domain.records import Message

OPEN = "open"
RESOLVED = "resolved"
STATUSES = (OPEN, RESOLVED)
# What an operator may do about a report (chatadmin's ``resolve``).
DISMISS, DELETE, REMOVE = "dismiss", "delete", "remove"
RESOLUTIONS = (DISMISS, DELETE, REMOVE)
REPORT_ID_RE = re.compile(r"^rp_[a-z2-7]{20}\Z")


def report_id(chat_id: str, seq: int, reporter: str) -> str:
    """The one id of ``reporter``'s report of the message at ``seq``: ``rp_`` and 20 base32
    characters of a SHA-256 (100 bits). Chat and user ids cannot hold ``|``, so the input is
    unambiguous."""
    digest = hashlib.sha256(f"{chat_id}|{seq}|{reporter}".encode()).digest()
    return "rp_" + base64.b32encode(digest).decode().lower()[:20]


@dataclass(frozen=True)
class ReportAction:
    """One thing an operator did about a report: who, when, what, and their note."""

    by: str
    at: str
    action: str
    note: str | None = None


@dataclass(frozen=True)
class Report:
    report_id: str
    chat_id: str
    seq: int
    reporter: str
    reason: str | None
    reported_at: str
    message: Message  # as it was when reported
    status: str = OPEN
    actions: tuple[ReportAction, ...] = ()


def check_reportable(message: Message, reporter: str) -> None:
    """A member reports messages of others (a system message names the member who acted)."""
    if message.sender_id == reporter:
        raise BadRequest("you cannot report your own message")


def new_report(message: Message, reporter: str, reason: str | None, now: str) -> Report:
    """``reporter``'s report of ``message``, as it is now."""
    check_reportable(message, reporter)
    return Report(
        report_id=report_id(message.chat_id, message.seq, reporter),
        chat_id=message.chat_id,
        seq=message.seq,
        reporter=reporter,
        reason=reason,
        reported_at=now,
        message=message,
    )
