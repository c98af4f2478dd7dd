"""The chaos run's checks find each kind of violation (and pass a clean run)."""

from __future__ import annotations

from chaos import checks
from chaos.checks import Frame, Record, Stored


def text(seq, sender="a", key=None):
    return Stored(seq, key or f"{sender}-{seq}", sender)


def event(seq, kind, *users):
    return Stored(seq, f"sys-{seq}", "a", {"type": kind, "users": list(users)})


# a, b from the start; c added at 2; b removed at 4; b added again at 6
CHAT = [
    text(1),
    event(2, "added", "c"),
    text(3, "b"),
    event(4, "removed", "b"),
    text(5),
    event(6, "added", "b"),
    text(7),
]
MEMBERS = checks.membership({"a", "b"}, CHAT)


def test_membership_per_seq_follows_the_system_messages():
    assert MEMBERS[0] == {"a", "b"} and MEMBERS[2] == {"a", "b", "c"}
    assert MEMBERS[4] == {"a", "c"} and MEMBERS[7] == {"a", "b", "c"}
    assert [s for s in range(1, 8) if checks.visible("b", MEMBERS, s)] == [1, 2, 3, 7]
    assert [s for s in range(1, 8) if checks.visible("c", MEMBERS, s)] == [3, 4, 5, 6, 7]
    assert checks.current_start("b", MEMBERS) == 6 and checks.current_start("a", MEMBERS) == 0


def test_a_clean_store_passes():
    acks = {("a", "a-1"): 1, ("b", "b-3"): 3}
    assert checks.check_store("c1", CHAT, acks).violations == []


def test_a_gap_is_lost():
    assert checks.check_store("c1", [text(1), text(3)], {}).lost


def test_two_seqs_for_one_client_msg_id_are_a_duplicate():
    assert checks.check_store("c1", [text(1, key="k"), text(2, key="k")], {}).duplicates


def test_an_ack_not_stored_is_lost_and_one_stored_elsewhere_is_a_duplicate():
    assert checks.check_store("c1", [text(1)], {("a", "missing"): 2}).lost
    assert checks.check_store("c1", [text(1)], {("a", "a-1"): 2}).duplicates


def test_a_client_holding_its_whole_membership_once_in_order_passes():
    assert checks.check_client("b", "c1", [1, 2, 7], own=[3], members=MEMBERS).violations == []


def test_a_client_missing_a_message_of_its_current_membership_lost_it():
    found = checks.check_client("a", "c1", [3, 4, 6], own=[1, 5, 7], members=MEMBERS)
    assert found.lost and "[2]" in found.lost[0]


def test_a_client_handed_a_message_twice_or_out_of_order_or_while_out():
    assert checks.check_client("b", "c1", [1, 2, 2, 7], [3], MEMBERS).duplicates
    assert checks.check_client("b", "c1", [2, 1, 7], [3], MEMBERS).disorder
    assert checks.check_client("b", "c1", [1, 2, 5, 7], [3], MEMBERS).leaked


def test_a_frame_to_a_non_member_leaks():
    frames = [Frame("b", "c1", 3), Frame("c", "c1", 5), Frame("b", "c1", 5), Frame("b", "c2", 1)]
    leaked = checks.check_frames(frames, {"c1": MEMBERS}).leaked
    assert len(leaked) == 2 and "seq 5" in leaked[0] and "c2" in leaked[1]


def test_a_record_that_outlives_its_socket_by_more_than_its_ttl_leaks():
    found = checks.check_records(
        [Record("ok", 1000.0, 1000.0 + 7000), Record("never", 1000.0, float("inf"))], ttl_seconds=7500
    )
    assert len(found.leaked) == 1 and "never" in found.leaked[0]


def test_repeated_frames_count_the_copies_beyond_the_first():
    frames = [Frame("b", "c1", 3), Frame("b", "c1", 3), Frame("b", "c1", 3), Frame("c", "c1", 3)]
    assert checks.repeated_frames(frames) == 2


def test_a_copy_showing_each_held_message_as_stored_passes_and_a_stale_one_diverges():
    stored = {1: "hello (edited)", 2: "(deleted)", 3: "hi [👍 2]"}
    assert checks.check_copy("b", "c1", {1: "hello (edited)", 3: "hi [👍 2]"}, stored).violations == []
    stale = checks.check_copy("b", "c1", {1: "helo", 2: "(deleted)", 3: "hi [👍 1]"}, stored)
    assert stale.diverged == ["b's copy of c1 is not what is stored at seqs [1, 3]"]
    assert stale.violations == stale.diverged
    unknown = checks.check_copy("b", "c1", {4: "never stored"}, stored)
    assert unknown.diverged and "[4]" in unknown.diverged[0]
