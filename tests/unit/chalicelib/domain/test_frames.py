"""frames.fit cuts exactly at the budget; frames.checked never lets an oversized frame out."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.frames import MAX_FRAME_BYTES, checked, encode, fit

texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=300)
items = st.lists(st.fixed_dictionaries({"seq": st.integers(0, 10**6), "text": texts}), max_size=40)


@given(items=items, budget=st.integers(min_value=60, max_value=8000), keep_last=st.booleans())
def test_fit_is_the_largest_run_that_fits(items, budget, keep_last):
    payload = {"event": "chat:history", "req": "r1", "messages": [], "has_more": False}
    count = fit(payload, "messages", items, keep_last=keep_last, budget=budget)
    kept = items[len(items) - count :] if keep_last else items[:count]
    assert len(encode({**payload, "messages": kept})) <= budget or count == 0
    if count < len(items):
        one_more = items[len(items) - count - 1 :] if keep_last else items[: count + 1]
        assert len(encode({**payload, "messages": one_more})) > budget


def test_reserve_leaves_room_for_fields_set_after_the_cut():
    payload = {"event": "chat:list", "chats": [], "next_cursor": None}
    chats = [{"chat_id": "c" * 1000}] * 10
    without = fit(payload, "chats", chats, budget=5000)
    with_reserve = fit(payload, "chats", chats, budget=5000, reserve=1500)
    assert with_reserve < without


def test_checked_passes_frames_within_the_budget():
    frame = {"event": "pong", "req": "a"}
    assert checked(frame) == encode(frame)


def test_checked_turns_an_oversized_frame_into_an_error_with_its_req():
    frame = {"event": "chat:history", "req": "r9", "messages": ["x" * MAX_FRAME_BYTES]}
    error = json.loads(checked(frame))
    assert error == {
        "event": "error",
        "req": "r9",
        "code": "too_large",
        "message": "the reply would be larger than 128 KiB",
    }
