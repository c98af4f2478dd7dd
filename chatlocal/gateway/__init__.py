"""Stands in for API Gateway's WebSocket API in front of the app's ``$connect``, ``$default`` and
``$disconnect`` routes, with its management API (``/@connections/{id}``), over aiohttp on the
stack's one port.

- ``websocket_api``: ``Gateway``: connections, one invocation per frame, the limits (128 KiB
  frames, the idle timeout), ``$disconnect`` once per connection, the management API with its
  SigV4 signatures checked, and the ``/dev/connections`` and ``/dev/stats`` additions.
- ``events``: the Lambda events API Gateway sends, built from what a socket did.
- ``server``: the aiohttp application: the gateway's routes, dev tokens, the web page, other local
  routes (the push ones), and who may use ``/dev`` and the page.

How faithful (docs/local-stack.md, "How faithful it is"): the events, the handshake refused by a
``$connect`` status, the ``Internal server error`` frame, the close codes and the 410 of a gone
connection are API Gateway's. Differs on purpose: a connection's frames run at most
``CHAT_CONNECTION_CONCURRENCY`` at once and its waiting frames are bounded (8 MiB, then ``Too Many
Requests``); there is no 2-hour connection limit, no throttling and no permessage-deflate.

May import: ``chatlocal.functions`` (the ``Lambdas`` it invokes), ``chatlocal.aws`` (SigV4 and
the local credentials), ``chatlocal.config``, and ``chalicelib.auth`` for the dev tokens.
"""
