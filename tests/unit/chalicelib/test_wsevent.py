from __future__ import annotations

from chalicelib.testing import ws_event
from chalicelib.wsevent import WsEvent


def test_connect_event_carries_query_and_identity():
    event = WsEvent.from_lambda(ws_event("$connect", "c1=", query={"token": "t"}))
    assert (event.route_key, event.connection_id, event.query["token"]) == ("$connect", "c1=", "t")
    assert event.source_ip == "127.0.0.1" and event.body is None and event.stage == "dev"


def test_message_event_body_and_missing_pieces():
    event = WsEvent.from_lambda(ws_event("$default", "c1=", body={"action": "ping"}))
    assert event.body == '{"action": "ping"}' and event.query == {} and not event.binary
    assert WsEvent.from_lambda({}).connection_id == ""
