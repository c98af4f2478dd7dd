"""What chatadmin prints: lines for people, or one JSON document (``--json``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from chalicelib.domain.records import ChatRecord, Message
from chalicelib.domain.reports import Report

PREVIEW_CHARS = 60


def report_json(report: Report) -> dict[str, Any]:
    return {
        "report_id": report.report_id,
        "status": report.status,
        "chat_id": report.chat_id,
        "seq": report.seq,
        "reporter": report.reporter,
        "reason": report.reason,
        "reported_at": report.reported_at,
        "message": report.message.to_wire(),
        "actions": [{"by": a.by, "at": a.at, "action": a.action, "note": a.note} for a in report.actions],
    }


def chat_json(chat: ChatRecord | None) -> dict[str, Any] | None:
    if chat is None:
        return None
    return {
        "chat_id": chat.chat_id,
        "kind": chat.kind,
        "title": chat.title,
        "member_count": chat.member_count,
        "admins": list(chat.admins),
        "last_seq": chat.last_seq,
    }


def dump(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2)


def _one_line(text: str, limit: int = PREVIEW_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _body(message: Message) -> str:
    """A message's content in one line: its text, or what it is when it has none."""
    if message.deleted:
        return "(deleted)"
    files = ", ".join(f"📎 {a.name}" for a in message.attachments)
    text = message.text
    if message.system is not None:
        text = f"[{text}]"
    return " ".join(part for part in (text, files) if part)


def reports_lines(reports: Sequence[Report], status: str) -> list[str]:
    if not reports:
        return [f"No {status} reports."]
    lines = [f"{len(reports)} {status} report{'s' if len(reports) != 1 else ''}, newest first:"]
    for r in reports:
        reason = f' "{_one_line(r.reason, 40)}"' if r.reason else ""
        lines.append(
            f"  {r.report_id}  {r.reported_at}  {r.chat_id} #{r.seq}  by {r.reporter}"
            f" of {r.message.sender_id}{reason}: {_one_line(_body(r.message))}"
        )
    return lines


def show_lines(
    report: Report, chat: ChatRecord | None, context: Sequence[Message], now: Message | None
) -> list[str]:
    m = report.message
    lines = [
        f"Report {report.report_id} ({report.status})",
        f"  reported    {report.reported_at} by {report.reporter}",
        f"  reason      {report.reason if report.reason else '(none given)'}",
    ]
    if chat is None:
        lines.append(f"  chat        {report.chat_id} (no longer exists)")
    else:
        title = f' "{chat.title}"' if chat.title else ""
        lines.append(f"  chat        {chat.chat_id} ({chat.kind}{title}, {chat.member_count} members)")
    lines.append(f"  message     #{m.seq} by {m.sender_id}, sent {m.sent_at}, as reported:")
    lines += [f"      {line}" for line in (m.text or _body(m)).splitlines() or [""]]
    for file in m.attachments:
        lines.append(f"      📎 {file.name} ({file.content_type}, {file.size} bytes)")
    lines.append(f"  now         {_now(m, now)}")
    lines.append("Around it:" if context else "Around it: nothing left to show")
    for c in context:
        mark = "  <- reported" if c.seq == report.seq else ""
        lines.append(f"  #{c.seq:<5} {c.sent_at}  {c.sender_id}: {_one_line(_body(c))}{mark}")
    lines.append("Actions:" if report.actions else "Actions: none yet")
    for a in report.actions:
        note = f": {a.note}" if a.note else ""
        lines.append(f"  {a.at}  {a.by}  {a.action}{note}")
    return lines


def _now(reported: Message, now: Message | None) -> str:
    if now is None:
        return "gone from the chat"
    if now.deleted:
        return "deleted"
    if now.rev == reported.rev:
        return "unchanged"
    return f"changed since (rev {now.rev}): {_one_line(_body(now))}"
