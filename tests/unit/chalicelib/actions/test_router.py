"""The actions router: every request type the protocol parses has exactly one handler, and the
router itself refuses what it cannot route."""

from __future__ import annotations

import typing

import pytest

from chalicelib.actions.dispatch import Actions
from chalicelib.actions.router import Context, Outcome, Router, handles
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.protocol import Ping, Request
from chalicelib.domain.records import Connection


class _NoStore:
    """The router never touches storage; a capability built over this must not either."""


def _context() -> Context:
    return Context(Connection("c1", "alice", None, 0, 0), req="r1")


def test_every_request_the_protocol_parses_is_routed_once_and_ping_is_the_services_own():
    actions = Actions(_NoStore())  # type: ignore[arg-type]
    parsed = set(typing.get_args(Request))
    assert actions.router.request_types == parsed - {Ping}


class Greetings:
    @handles(Ping)
    def hello(self, ctx: Context, request: Ping) -> Outcome:
        return Outcome({"event": "hello", "req": ctx.req})


def test_an_included_capability_answers_its_request_type():
    router = Router()
    router.include(Greetings())
    assert router.run(_context(), Ping()).reply == {"event": "hello", "req": "r1"}


def test_a_request_type_no_capability_handles_is_a_bad_request():
    with pytest.raises(BadRequest, match="unsupported action"):
        Router().run(_context(), Ping())


def test_two_capabilities_handling_one_request_type_are_refused_at_include():
    router = Router()
    router.include(Greetings())
    with pytest.raises(ValueError, match="Ping is handled twice"):
        router.include(Greetings())
