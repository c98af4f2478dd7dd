from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.ids import iso_from_epoch_ms, new_chat_id, new_message_id, ulid
from chalicelib.domain.records import Pointers


def test_ulids_are_26_crockford_chars_and_sort_by_time():
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", ulid())
    assert ulid(1_000) < ulid(2_000)
    assert new_chat_id().startswith("c_") and new_message_id().startswith("m_")
    assert len({ulid() for _ in range(1000)}) == 1000


def test_iso_timestamps_have_milliseconds_and_z():
    assert iso_from_epoch_ms(1_795_500_001_234) == "2026-11-24T06:00:01.234Z"
    assert iso_from_epoch_ms(0) == "1970-01-01T00:00:00.000Z"


@given(
    st.integers(0, 50),
    st.integers(0, 50),
    st.lists(st.tuples(st.integers(0, 60), st.booleans()), max_size=20),
)
def test_pointers_only_move_forward_and_read_implies_delivered(delivered, read, moves):
    p = Pointers(delivered_seq=max(delivered, read), read_seq=read)
    for seq, is_read in moves:
        q = p.advanced(seq, read=is_read)
        assert q.delivered_seq >= p.delivered_seq and q.read_seq >= p.read_seq
        assert q.delivered_seq >= q.read_seq
        assert q.delivered_seq >= seq
        if is_read:
            assert q.read_seq >= seq
        p = q


def test_a_direct_chat_id_is_the_pairs_under_a_key_and_nobody_can_compute_it_without_the_key():
    import hashlib

    from chalicelib.domain import ids

    key = ids.direct_chat_key("the-stack-secret")
    assert key != ids.direct_chat_key("another-secret") and len(key) == 32
    chat_id = ids.direct_chat_id("alice", "bob", key)
    assert re.fullmatch(r"d_[0-9a-f]{40}", chat_id)
    assert ids.direct_chat_id("bob", "alice", key) == chat_id  # whoever asks
    assert ids.direct_chat_id("alice", "bob", ids.direct_chat_key("another-secret")) != chat_id
    assert ids.direct_chat_id("alice", "carol", key) != chat_id
    # The old id was a plain hash anyone could compute; the keyed one is not it.
    plain = "d_" + hashlib.sha256(b"alice\nbob").hexdigest()[:40]
    assert ids.legacy_direct_chat_id("bob", "alice") == plain != chat_id
