"""The chat backend's domain: everything the deployed Lambda functions run.

Layers, each importing only those below it (``tests/unit/test_layout.py`` checks there is no cycle):

- ``runtime``: assembles the service (``build_service``) and the Lambdas' workers; ``app.py`` calls it.
- ``service``: the three WebSocket Lambdas' work: connect, disconnect, one frame in, replies out.
- ``actions/``: what each protocol action does, one module per capability, on one router.
- ``push/``, ``delivery/``: notifications to offline devices; frames to connections.
- ``storage/``: the ``Store`` interface and its DynamoDB (PynamoDB) implementation.
- ``domain/``: records, protocol, membership rules, ids, frames, errors: pure.
- beside them: ``config``, ``secret``, ``auth``, ``wsevent``, ``ratelimit``, ``retry``, ``queues``.

``testing`` is the supported driver of the handlers for tests and benchmarks: nothing the Lambdas
run imports it. Nothing in this package imports moto, the local emulator or test helpers.
"""
