"""The reports table as the operator reads and writes it. Not on any request path, and not
``chalicelib`` code: the Lambdas' policy grants them only the Put that ``message.report`` makes.

- ``open_reports``: one Query on the ``by_status`` index, newest first (an index is eventually
  consistent: a report made a moment ago may take a moment to show);
- ``report``: one GetItem, strongly consistent;
- ``record``: one UpdateItem appending an action and marking the report resolved, on the
  condition that its actions are still those read (two operators at once: one tries again).
"""

from __future__ import annotations

from dataclasses import replace

from pynamodb.exceptions import UpdateError

from chalicelib.domain.reports import OPEN, REPORT_ID_RE, RESOLVED, Report, ReportAction
from chalicelib.storage.reports import actions_json, report_from
from chalicelib.storage.tables import ReportItem
from chatadmin.errors import AdminError, NoSuchReport, Usage

RECORD_ATTEMPTS = 5


def check_id(report_id: str) -> str:
    if not REPORT_ID_RE.match(report_id):
        raise Usage(
            f"{report_id!r} is not a report id (rp_ and 20 letters and digits, as `reports` lists them)"
        )
    return report_id


def open_reports(limit: int, status: str = OPEN) -> list[Report]:
    """Reports of one status, newest first."""
    items = ReportItem.by_status.query(status, scan_index_forward=False, limit=limit, page_size=limit)
    return [report_from(item) for item in items]


def report(report_id: str) -> Report:
    try:
        item = ReportItem.get(check_id(report_id), consistent_read=True)
    except ReportItem.DoesNotExist:
        raise NoSuchReport(f"no report {report_id}") from None
    return report_from(item)


def record(report_id: str, action: ReportAction) -> Report:
    """Append ``action`` to the report and mark it resolved; returns the report as stored."""
    for _ in range(RECORD_ATTEMPTS):
        current = report(report_id)
        actions = (*current.actions, action)
        before = actions_json(current.actions)
        unchanged = ReportItem.actions.does_not_exist() if before is None else ReportItem.actions == before
        try:
            ReportItem(report_id).update(
                actions=[
                    ReportItem.actions.set(actions_json(actions) or ""),
                    ReportItem.status.set(RESOLVED),
                ],
                condition=ReportItem.report_id.exists() & unchanged,
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                continue
            raise
        return replace(current, actions=actions, status=RESOLVED)
    raise AdminError(f"report {report_id} keeps changing (another operator?); try again")
