"""``Store``'s reports on DynamoDB (see ``storage/base.py`` for the cost), and how a report is
laid out in its item (``report_item``, ``report_from``: the operator's tool reads them too).

``message.report`` writes one item with a conditional Put (``report_id`` absent): a second
report of the same message by the same user changes nothing. The operator's reads and writes
(list, show, resolve) are not on a request path and live in ``chatadmin``.
"""

from __future__ import annotations

import json

from chalicelib.domain.reports import Report, ReportAction
from chalicelib.storage.calls import applied, guarded
from chalicelib.storage.mapping import message_attributes, message_from
from chalicelib.storage.tables import MessageMap, ReportItem


def queued_at(report: Report) -> str:
    """The status index's sort key: newest first by time, unique by id."""
    return f"{report.reported_at}#{report.report_id}"


def actions_json(actions: tuple[ReportAction, ...]) -> str | None:
    if not actions:
        return None
    return json.dumps(
        [{"by": a.by, "at": a.at, "action": a.action, "note": a.note} for a in actions],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def report_item(report: Report) -> ReportItem:
    return ReportItem(
        report.report_id,
        chat_id=report.chat_id,
        seq=report.seq,
        reporter=report.reporter,
        reason=report.reason,
        reported_at=report.reported_at,
        message=MessageMap(**message_attributes(report.message)),
        status=report.status,
        queued_at=queued_at(report),
        actions=actions_json(report.actions),
    )


def report_from(item: ReportItem) -> Report:
    actions = tuple(
        ReportAction(by=a["by"], at=a["at"], action=a["action"], note=a.get("note"))
        for a in json.loads(item.actions or "[]")
    )
    return Report(
        report_id=item.report_id,
        chat_id=item.chat_id,
        seq=int(item.seq),
        reporter=item.reporter,
        reason=item.reason,
        reported_at=item.reported_at,
        message=message_from(item.message, item.chat_id),
        status=item.status,
        actions=actions,
    )


class DynamoReports:
    @guarded
    def save_report(self, report: Report) -> bool:
        """One conditional PutItem; False (nothing written) when this report exists already."""
        item = report_item(report)
        return applied(lambda: item.save(condition=ReportItem.report_id.does_not_exist()))
