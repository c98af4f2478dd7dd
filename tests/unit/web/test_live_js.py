"""The web page's rules for messages that change, run in Node (no browser): web/js/mentions.js
(the `@partial` being typed, which members a text mentions, a text cut into mentions) and
web/js/store.js (of two copies of a message the higher `rev` wins, whichever arrives last; a
change to a message not loaded yet is remembered for when it loads). Skipped without Node (the
browser tier drives the page itself)."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from tests.stack import ROOT

NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="no node to run the page's modules")


def run(script: str) -> Any:
    js = ROOT / "web" / "js"
    source = script.replace("MENTIONS", (js / "mentions.js").as_uri())
    source = source.replace("STORE", (js / "store.js").as_uri())
    result = subprocess.run(
        [NODE, "--input-type=module", "-e", source], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_mention_being_typed():
    out = run(
        """
        import { mentionQuery } from "MENTIONS";
        const q = (text, caret = text.length) => mentionQuery(text, caret);
        console.log(JSON.stringify([q("@"), q("hi @bo"), q("hi (@al.ice"), q("mail a@b"), q("@bob x"),
                                    q("hi @bob there", 7), q("@bob ")]));
        """
    )
    assert out == [
        {"start": 0, "prefix": ""},
        {"start": 3, "prefix": "bo"},
        {"start": 4, "prefix": "al.ice"},
        None,  # "@" inside a word: an address, not a mention
        None,
        {"start": 3, "prefix": "bob"},
        None,
    ]


def test_which_members_a_text_mentions_and_how_it_is_cut():
    out = run(
        """
        import { mentionCandidates, mentionsIn, splitMentions } from "MENTIONS";
        const members = ["al", "alice", "bob", "bob.smith", "carol"];
        const many = Array.from({ length: 60 }, (_, i) => `u${i}`);
        console.log(JSON.stringify([
          mentionsIn("hi @alice and @bob.smith.", members, "carol"),
          mentionsIn("@carol @al, @bobby @bob-x", members, "carol"),
          mentionsIn(many.map((u) => "@" + u).join(" "), many, null).length,
          splitMentions("hi @bob.smith and @bob!", ["bob", "bob.smith"]),
          mentionCandidates(members, "b", "alice"),
          mentionCandidates(members, "ol", "alice"),
          mentionCandidates(members, "", "alice", 3),
        ]));
        """
    )
    assert out[0] == ["alice", "bob.smith"]  # the sentence's final "." is not part of the id
    assert out[1] == ["al"]  # not me, not @bobby, not @bob-x (another id)
    assert out[2] == 50  # as many as the server takes
    assert out[3] == [
        {"text": "hi "},
        {"text": "@bob.smith", "user": "bob.smith"},
        {"text": " and "},
        {"text": "@bob", "user": "bob"},
        {"text": "!"},
    ]
    assert out[4] == ["bob", "bob.smith"]
    assert out[5] == ["carol"]
    assert out[6] == ["al", "bob", "bob.smith"]


def test_the_newest_copy_of_a_message_wins_whatever_the_order():
    out = run(
        """
        import { addMessages, applyChange, findMessage, state, storeChat } from "STORE";
        const chat = { chat_id: "c", last_seq: 3, read_seq: 3, joined_seq: 0, last_message: null };
        storeChat(chat);
        const msg = (seq, rev, text, more = {}) => ({ chat_id: "c", seq, rev, text, ...more });
        addMessages("c", [msg(1, 0, "one"), msg(2, 0, "two"), msg(3, 0, "three")]);
        applyChange("c", msg(1, 5, "one, edited"));
        addMessages("c", [msg(1, 0, "one")]);          // a late chat.history page: older
        applyChange("c", msg(1, 4, "one, first edit")); // a late frame: older
        applyChange("c", msg(9, 7, "", { deleted: true })); // not loaded yet
        addMessages("c", [msg(9, 0, "nine")]);          // loads later: shows as it is now
        applyChange("c", msg(3, 6, "three", { reactions: { "👍": ["b"] } }));
        console.log(JSON.stringify([
          findMessage("c", 1).text, findMessage("c", 9).deleted, state.revs.get("c"),
          state.chats.get("c").last_message.deleted, findMessage("c", 3).reactions, findMessage("c", 4),
        ]));
        """
    )
    assert out == ["one, edited", True, 7, True, {"👍": ["b"]}, None]
