"""The push worker's side of reach (PROTOCOL v3, "Reach"): a ``ReachJob`` comes out of the push
queue ``REACH_DELAY_SECONDS`` after the send that queued it; one BatchGetItem reads the
``delivered_seq`` of its members (at most 100), and each member whose pointer is still below the
message's ``seq`` gets the ordinary push job, run by the worker as if it had been queued for
them, unless they block the sender (one more BatchGetItem, for those members only: none when
everyone confirmed). A member who left the chat meanwhile has no membership and gets nothing.

Nothing is sent twice: the worker claims each device and message in the push log before
sending, the same claim the immediate path takes, so a member made offline by a 410 and pushed
at once, or a reach job SQS delivers again, notifies no device a second time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from chalicelib.push.jobs import PushJob, ReachJob
from chalicelib.storage import Store

# Members notified at once by one reach job: each is a devices Query, a badge and a send per
# device (tens of ms), so a job of 100 takes well under a second, not several.
MEMBER_CONCURRENCY = 8
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _members_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=MEMBER_CONCURRENCY, thread_name_prefix="reach")
        return _pool


def unconfirmed(store: Store, job: ReachJob) -> list[str]:
    """The job's members whose ``delivered_seq`` has not reached its message (1 BatchGetItem)."""
    memberships = store.memberships(job.push.chat_id, job.user_ids)
    return [
        user
        for user in job.user_ids
        if user in memberships
        and memberships[user].pointers.delivered_seq < job.seq
        and memberships[user].joined_seq <= job.seq  # not removed and added again since
    ]


def run(
    store: Store,
    job: ReachJob,
    notify: Callable[[PushJob], bool],
    blockers: Callable[[list[str]], set[str]] | None = None,
) -> bool:
    """Notify every unconfirmed member with ``notify`` (the worker's own run), several at once,
    except those ``blockers`` names among them (asked only when someone is unconfirmed: a job
    whose members all confirmed costs its one BatchGetItem and nothing else); False when some
    send should be retried (the whole job comes again: the claims skip what was sent).
    ``notify`` raising fails the job the same way."""
    waiting = unconfirmed(store, job)
    if waiting and blockers is not None:
        blocked = blockers(waiting)
        waiting = [user for user in waiting if user not in blocked]
    jobs = [job.for_user(user) for user in waiting]
    if len(jobs) <= 1:
        return all(notify(push) for push in jobs)
    return all(list(_members_pool().map(notify, jobs)))
