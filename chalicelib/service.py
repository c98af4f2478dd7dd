"""The chat service: what the three WebSocket Lambdas do.

``connect`` and ``disconnect`` manage connection records. ``message`` counts one frame against
its connection's rate limit (every frame, before it is parsed: see ``ratelimit``), parses it, runs
its action and posts exactly one reply (or, for ``typing``, none unless it failed), then the
frames the action sends to others. Work that follows a stored change (fan-out) runs after the
reply and never turns a stored change into an error reply.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from chalicelib.actions.dispatch import Actions
from chalicelib.actions.router import Context, Outcome
from chalicelib.auth import Identity, InvalidToken, verify_token
from chalicelib.config import Settings
from chalicelib.delivery.fanout import Fanout, FanoutWorker
from chalicelib.delivery.posting import PostResult, management_endpoint
from chalicelib.domain import ids
from chalicelib.domain.errors import BadRequest, ChatError, Unavailable
from chalicelib.domain.frames import checked
from chalicelib.domain.protocol import FrameError, Ping, error_frame, frame, parse_request
from chalicelib.domain.records import Connection
from chalicelib.identity.oidc import OidcVerifier
from chalicelib.push.devices import EndpointPolicy
from chalicelib.push.jobs import Notifier
from chalicelib.push.providers import Providers
from chalicelib.ratelimit import RateGate, RateLimit
from chalicelib.secret import JwtSecret, SecretUnavailable
from chalicelib.storage import Store
from chalicelib.storage.files import Files
from chalicelib.wsevent import WsEvent

log = logging.getLogger(__name__)

# A 410 this soon after $connect (about: both times are whole seconds) may mean "not open yet":
# see forget. The cost: a connection whose handshake never completed keeps its presence entry
# (and so no push for its user) until the first 410 after this, its $disconnect or its TTL.
JUST_CONNECTED_SECONDS = 10


class ChatService:
    def __init__(
        self,
        store: Store,
        fanout: Fanout,
        secret: JwtSecret,
        settings: Settings,
        notifier: Notifier | None = None,
        providers: Providers | None = None,
        files: Files | None = None,
    ) -> None:
        self.store = store
        self.fanout = fanout
        self.secret = secret
        self.settings = settings
        self.providers = providers or Providers({})
        self.gate = RateGate(store, RateLimit.from_settings(settings))
        self.actions = Actions(
            store,
            notifier=notifier,
            providers=self.providers,
            endpoint_policy=EndpointPolicy(settings.push_allow_local_http, settings.push_local_service),
            direct_key=self.direct_chat_key,
            files=files,
        )
        self.actions.messages.slice_queue = fanout.queue  # a large chat's send queues slices there
        self._direct_chat_key: bytes | None = None
        self.oidc = oidc_verifier(settings)

    def verify(self, token: str | None) -> Identity:
        """The identity of a token: the OpenID Connect issuer's when one is set, else HS256
        with the deployment's secret (which keys direct chat ids in both modes)."""
        if self.oidc is not None:
            return self.oidc.verify(token)
        return verify_token(token, self.secret.get())

    def direct_chat_key(self) -> bytes:
        """The key of direct chat ids, derived from the JWT secret (read once, then kept)."""
        if self._direct_chat_key is None:
            try:
                self._direct_chat_key = ids.direct_chat_key(self.secret.get())
            except SecretUnavailable:
                log.exception("no JWT secret: no direct chat ids")
                raise Unavailable("cannot read the deployment's secret") from None
        return self._direct_chat_key

    def fanout_worker(self) -> FanoutWorker:
        """The fan-out Lambda's worker: posts queued shards over this service's delivery and
        forgets the connections they find gone."""
        return FanoutWorker(self.fanout.delivery, self.forget, self.store, self.actions.messages)

    # ------------------------------------------------------------ $connect / $disconnect

    def connect(self, event: WsEvent) -> int:
        """Verify the token and record the connection. Returns the HTTP status for API Gateway."""
        try:
            identity = self.verify(event.query.get("token"))
        except InvalidToken as exc:
            log.info("refused connection %s: %s", event.connection_id, exc)
            return 401
        except SecretUnavailable:
            log.exception("no JWT secret configured")
            return 500
        now = int(time.time())
        connection = Connection(
            connection_id=event.connection_id,
            user_id=identity.user_id,
            name=identity.name,
            connected_at=now,
            expires_at=now + self.settings.connection_ttl_seconds,
        )
        try:
            self.store.add_connection(connection)
        except ChatError:
            log.exception("could not record connection %s", event.connection_id)
            return 500
        return 200

    def disconnect(self, event: WsEvent) -> None:
        try:
            self.store.remove_connection(event.connection_id)
        except ChatError:
            # The record's TTL removes it later; a post to it answers 410 and removes it sooner.
            log.exception("could not forget connection %s", event.connection_id)

    # ------------------------------------------------------------ $default

    def message(self, event: WsEvent) -> None:
        endpoint = management_endpoint(
            event.api_id, event.stage, self.settings.region, self.settings.management_endpoint
        )
        outcome = self._handle(event, endpoint)
        reply = outcome.reply
        if reply is not None and self._post(endpoint, event.connection_id, reply) is PostResult.GONE:
            self.forget([event.connection_id])
        try:
            posts = outcome.then()
        except Exception:  # the change is stored; receivers resync by seq
            log.exception("fan-out failed after %s", event.connection_id)
            return
        gone = self.fanout.dispatch(endpoint, posts)
        if gone:
            try:
                outcome.gone(gone)  # whoever lost every connection is pushed to now
            except Exception:
                log.exception("could not act on the gone connections after %s", event.connection_id)
            self.forget(gone)
        try:
            outcome.done()
        except Exception:  # what it records only saves work later
            log.exception("could not record the fan-out after %s", event.connection_id)

    def _post(self, endpoint: str, connection_id: str, payload: dict[str, Any]) -> PostResult:
        return self.fanout.delivery.post(endpoint, connection_id, checked(payload))

    def _handle(self, event: WsEvent, endpoint: str = "") -> Outcome:
        req = None
        try:
            try:  # every frame takes its turn first, malformed and unknown ones too
                connection = self.gate.admit(event.connection_id, event.request_time_ms)
            except ChatError as refused:
                raise FrameError(refused, _req_of(event)) from None
            if event.binary:
                raise FrameError(BadRequest("frames must be text (JSON)"), None)
            envelope = parse_request(event.body)
            req = envelope.req
            if isinstance(envelope.request, Ping):
                return Outcome(frame("pong", req))
            return self.actions.run(Context(connection, req, endpoint), envelope.request)
        except FrameError as exc:
            return Outcome(error_frame(exc.error, exc.req))
        except ChatError as exc:
            return Outcome(error_frame(exc, req))
        except Exception:
            log.exception("unhandled error on %s", event.connection_id)
            return Outcome(error_frame(ChatError(), req))

    def forget(self, connection_ids: Iterable[str]) -> None:
        """Forget connections the management API reported gone (410), except those connected in
        the last ``JUST_CONNECTED_SECONDS``: API Gateway answers 410 to a post that arrives
        after ``$connect`` stored the connection but before it finished the handshake, and
        forgetting it then would leave a live connection that every action refuses as
        unregistered. A connection that really went away is forgotten by its ``$disconnect``,
        by a later 410, or by its record's TTL. (AWS lists "posted before the connection was
        established" among the causes of a 410:
        https://repost.aws/knowledge-center/410-gone-api-gateway)

        Whether the user gets a push does not wait for this: the action that posted decides it
        from the 410s themselves (``Outcome.gone``), so a connection closed just before a send
        whose ``$disconnect`` has not run yet, kept here as just connected, still leaves its
        user offline for that message."""
        connected_before = int(time.time()) - JUST_CONNECTED_SECONDS
        for connection_id in connection_ids:
            try:
                self.store.remove_connection(connection_id, connected_before=connected_before)
            except ChatError:
                log.exception("could not forget gone connection %s", connection_id)


def oidc_verifier(settings: Settings) -> OidcVerifier | None:
    """The verifier of the OpenID Connect issuer's tokens, if the settings name one (no I/O:
    the keys are fetched at the first token)."""
    if settings.oidc_issuer is None:
        return None
    return OidcVerifier.from_settings(
        settings.oidc_issuer,
        settings.oidc_audience,
        settings.oidc_jwks_url,
        settings.oidc_jwks_refresh_seconds,
    )


def _req_of(event: WsEvent) -> str | None:
    """The ``req`` of a frame refused before it was parsed, for the reply to echo (if readable)."""
    if event.binary:
        return None
    try:
        return parse_request(event.body).req
    except FrameError as exc:
        return exc.req
