"""Who is in a chat, and what a membership change does. Pure: no storage, no I/O.

The ``Roster`` is the chat's side of membership: every member with the seq that added them,
kept in pages of at most ``PAGE_CAPACITY`` users (one item per page in storage, so no item
grows with the chat). ``plan_*`` turn a request into a ``Change``: the chat as it will be, the
system message that records it, and the roster pages it rewrites. A change that changes nothing
is ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from chalicelib.domain import ids
from chalicelib.domain.errors import BadRequest, Forbidden, TooLarge
from chalicelib.domain.records import (
    INLINE_MEMBERS,
    MAX_ADMINS,
    MAX_MEMBERS,
    ChatRecord,
    Message,
    SystemEvent,
)

PAGE_CAPACITY = 100


@dataclass
class Roster:
    """page number -> {user_id: joined_seq}. ``unsaved`` pages exist only here so far (a chat
    from before rosters were stored): the next change writes them."""

    pages: dict[int, dict[str, int]] = field(default_factory=dict)
    unsaved: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, joined: Mapping[str, int]) -> Roster:
        roster = cls()
        roster.add(sorted(joined), 0)
        for page in roster.pages.values():
            page.update({user: joined[user] for user in page})
        return roster

    def joined(self) -> dict[str, int]:
        return {user: seq for page in self.pages.values() for user, seq in page.items()}

    def members(self) -> tuple[str, ...]:
        return tuple(sorted(self.joined()))

    def numbers(self) -> tuple[int, ...]:
        """The numbers of the pages that hold anyone (an emptied page is deleted)."""
        return tuple(sorted(number for number, page in self.pages.items() if page))

    def __contains__(self, user_id: object) -> bool:
        return any(user_id in page for page in self.pages.values())

    def __len__(self) -> int:
        return sum(len(page) for page in self.pages.values())

    def add(self, users: Iterable[str], seq: int) -> set[int]:
        """Put users in the first pages with room; returns the page numbers changed."""
        touched: set[int] = set()
        number = 0
        for user in users:
            while len(self.pages.get(number, {})) >= PAGE_CAPACITY:
                number += 1
            self.pages.setdefault(number, {})[user] = seq
            touched.add(number)
        return touched

    def remove(self, users: Iterable[str]) -> set[int]:
        touched: set[int] = set()
        gone = set(users)
        for number, page in self.pages.items():
            for user in gone & page.keys():
                del page[user]
                touched.add(number)
        return touched

    def copy(self) -> Roster:
        return Roster({number: dict(page) for number, page in self.pages.items()}, set(self.unsaved))


@dataclass(frozen=True)
class Change:
    chat: ChatRecord  # as it is after the change
    message: Message  # the system message, seq = chat.last_seq
    roster: Roster  # after the change
    pages: frozenset[int]  # roster pages rewritten (an empty page is deleted)
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()  # including a user who left
    actor: str = ""
    actor_member: bool = True  # False: an operator acted (chatadmin), no member of the chat

    @property
    def actor_stays(self) -> bool:
        return self.actor not in self.removed

    @property
    def actor_was_member(self) -> bool:
        """The actor was and stays a member: their pointers move to the change's seq."""
        return self.actor_member and self.actor_stays and self.actor not in self.added


# ---------------------------------------------------------------- the plans


def plan_add(
    chat: ChatRecord, roster: Roster, actor: str, users: Iterable[str], rejoin: bool = False
) -> Change | None:
    """Add users (admins only; ``rejoin``: the pair of a direct chat coming back to it)."""
    if not rejoin:
        _require_group_admin(chat, actor)
    new = sorted(set(users) - set(roster.joined()))
    if not new:
        return None
    if len(roster) + len(new) > MAX_MEMBERS:
        raise TooLarge(f"a chat has at most {MAX_MEMBERS} members")
    seq = chat.last_seq + 1
    after = roster.copy()
    pages = after.add(new, seq)
    event = SystemEvent(type="added", users=tuple(new))
    text = f"{actor} came back" if new == [actor] else f"{actor} added {_names(new)}"
    return _change(chat, after, pages, actor, event, text, added=tuple(new))


def plan_remove(chat: ChatRecord, roster: Roster, actor: str, users: Iterable[str]) -> Change | None:
    _require_group_admin(chat, actor)
    wanted = set(users)
    if actor in wanted:
        raise BadRequest("to leave a chat, use chat.leave")
    gone = sorted(wanted & set(roster.joined()))
    if not gone:
        return None
    return _departure(chat, roster, actor, gone, "removed", f"{actor} removed {_names(gone)}")


def plan_operator_remove(
    chat: ChatRecord, roster: Roster, operator: str, users: Iterable[str]
) -> Change | None:
    """An operator's removal (``chatadmin`` acting on a report): ``chat.remove``'s change
    without the admin rule, recorded as done by ``operator``, who is no member. A direct chat's
    members cannot change."""
    if chat.is_direct:
        raise BadRequest("a direct chat's members cannot change")
    gone = sorted(set(users) & set(roster.joined()))
    if not gone:
        return None
    change = _departure(chat, roster, operator, gone, "removed", f"{operator} removed {_names(gone)}")
    return replace(change, actor_member=False)


def plan_leave(chat: ChatRecord, roster: Roster, actor: str) -> Change:
    return _departure(chat, roster, actor, [actor], "left", f"{actor} left")


def plan_update(
    chat: ChatRecord,
    roster: Roster,
    actor: str,
    title: str | None,
    title_given: bool,
    admins: Iterable[str] | None,
) -> Change | None:
    _require_group_admin(chat, actor)
    new_admins = chat.admins
    if admins is not None:
        new_admins = tuple(sorted(set(admins)))
        if not new_admins:
            raise BadRequest("'admins' must name at least one member")
        if len(new_admins) > MAX_ADMINS:
            raise TooLarge(f"a chat has at most {MAX_ADMINS} admins")
        outsiders = [a for a in new_admins if a not in roster]
        if outsiders:
            raise BadRequest(f"admins must be members: {_names(outsiders)} is not")
    title_changed = title_given and title != chat.title
    admins_changed = new_admins != chat.admins
    if not title_changed and not admins_changed:
        return None
    changed_users = tuple(sorted(set(new_admins) ^ set(chat.admins)))
    event = SystemEvent(
        type="updated",
        users=changed_users,
        title=title if title_changed else None,
        title_changed=title_changed,
        admins=new_admins if admins_changed else None,
    )
    summary = []
    if title_changed:
        summary.append(f'{actor} renamed the chat to "{title}"' if title else f"{actor} removed the title")
    if admins_changed:
        summary.append(f"{actor} set the admins to {_names(new_admins, limit=5)}")
    seq = chat.last_seq + 1
    updated = replace(chat, title=title if title_changed else chat.title, admins=new_admins)
    return _change(updated, roster.copy(), set(), actor, event, "; ".join(summary), seq=seq)


# ---------------------------------------------------------------- shared steps


def _require_group_admin(chat: ChatRecord, actor: str) -> None:
    if chat.is_direct:
        raise BadRequest("a direct chat's members and title cannot change")
    if actor not in chat.admins:
        raise Forbidden("only an admin of this chat can do that")


def _departure(
    chat: ChatRecord, roster: Roster, actor: str, gone: list[str], kind: str, summary: str
) -> Change:
    after = roster.copy()
    pages = after.remove(gone)
    admins = tuple(a for a in chat.admins if a not in gone)
    if not admins and not chat.is_direct and len(after):
        heir = min(after.joined().items(), key=lambda item: (item[1], item[0]))[0]
        admins = (heir,)
        summary += f"; {heir} is now an admin"
    event = SystemEvent(type=kind, users=tuple(gone), admins=admins if admins != chat.admins else None)
    updated = replace(chat, admins=admins)
    return _change(updated, after, pages, actor, event, summary, removed=tuple(gone))


def _change(
    chat: ChatRecord,
    roster: Roster,
    pages: set[int],
    actor: str,
    event: SystemEvent,
    text: str,
    added: tuple[str, ...] = (),
    removed: tuple[str, ...] = (),
    seq: int | None = None,
) -> Change:
    seq = seq if seq is not None else chat.last_seq + 1
    now = ids.iso_now()
    message = Message(
        chat_id=chat.chat_id,
        seq=seq,
        message_id=ids.new_message_id(),
        client_msg_id="sys-" + ids.ulid(),
        sender_id=actor,
        text=text,
        sent_at=now,
        system=event,
    )
    count = len(roster)
    after = replace(
        chat,
        members=roster.members() if count <= INLINE_MEMBERS else None,
        pages=roster.numbers() if count > INLINE_MEMBERS else (),
        member_count=count,
        last_seq=seq,
        members_seq=seq,
        last_message=message,
        last_activity=now,
    )
    return Change(
        chat=after,
        message=message,
        roster=roster,
        pages=frozenset(pages),
        added=added,
        removed=removed,
        actor=actor,
    )


def _names(users: Iterable[str], limit: int = 3) -> str:
    names = list(users)
    if len(names) == 1:
        return names[0]
    if len(names) <= limit:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return ", ".join(names[: limit - 1]) + f" and {len(names) - limit + 1} others"
