"""The three commands, on the tables ``settings`` name (imported after they were applied)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from chalicelib.domain import ids
from chalicelib.domain.reports import DELETE, OPEN, REMOVE, RESOLVED, ReportAction
from chalicelib.storage.dynamo import DynamoStore
from chalicelib.storage.files import Files, s3_client
from chalicelib.storage.tables import ReportItem
from chatadmin import desk, moderation, output
from chatadmin.errors import Usage
from chatadmin.settings import Settings


def check_tables(settings: Settings) -> None:
    """``chalicelib``'s tables were named when first imported: in a process that had imported
    them before (a test), they must be the ones asked for."""
    if ReportItem.Meta.table_name != f"{settings.prefix}-reports":
        raise Usage(
            f"this process already uses the tables {ReportItem.Meta.table_name}, not {settings.prefix}-*"
        )


def run(args: argparse.Namespace, settings: Settings) -> list[str]:
    if args.command == "reports":
        return list_reports(RESOLVED if args.resolved else OPEN, args.limit, args.json)
    if args.command == "show":
        return show(args.report_id, args.around, args.json)
    return resolve(args.report_id, args.action, args.note, settings, args.json)


def list_reports(status: str, limit: int, as_json: bool) -> list[str]:
    reports = desk.open_reports(limit, status)
    if as_json:
        return [output.dump({"status": status, "reports": [output.report_json(r) for r in reports]})]
    return output.reports_lines(reports, status)


def show(report_id: str, around: int, as_json: bool) -> list[str]:
    report = desk.report(report_id)
    store = DynamoStore()
    chat = store.get_chat(report.chat_id)
    context = []
    if chat is not None:
        low = max(0, report.seq - around - 1)
        context = store.messages(
            report.chat_id, before=report.seq + around + 1, after=low, limit=2 * around + 1
        ).messages
    now = next((m for m in context if m.seq == report.seq), None)
    if as_json:
        document = {
            "report": output.report_json(report),
            "chat": output.chat_json(chat),
            "message_now": now.to_wire() if now is not None else None,
            "context": [m.to_wire() for m in context],
        }
        return [output.dump(document)]
    return output.show_lines(report, chat, context, now)


def resolve(report_id: str, action: str, note: str | None, settings: Settings, as_json: bool) -> list[str]:
    report = desk.report(report_id)
    store = DynamoStore()
    if action == DELETE:
        files = Files(settings.bucket, lambda: s3_client(settings.region)) if settings.bucket else None
        done = moderation.delete_message(store, files, report.chat_id, report.seq)
    elif action == REMOVE:
        done = moderation.remove_sender(store, report.chat_id, report.message.sender_id)
    else:
        done = moderation.Done(f"dismissed; chat {report.chat_id} unchanged", changed=False)
    posted = moderation.Poster(settings.management, settings.region).post(done.posts)
    summary = done.summary + _told(done, posted)
    stored = desk.record(report_id, ReportAction(by=settings.by, at=ids.iso_now(), action=action, note=note))
    if as_json:
        document = {"report": output.report_json(stored), "summary": summary, "changed": done.changed}
        document["posted"] = posted
        return [output.dump(document)]
    return [f"Report {report_id} resolved ({action}): {summary}."]


def _told(done: moderation.Done, posted: int | None) -> str:
    if not done.changed:
        return ""
    if posted is None:
        return (
            "; no --management endpoint, so no connection was told now: members see it at their"
            " next chat.changes, chat.open or chat.history"
        )
    return f"; {posted} connection{'s' if posted != 1 else ''} told"


__all__: Sequence[str] = ("check_tables", "run")
