"""The local stack: an API Gateway WebSocket emulator in front of the Chalice app, with DynamoDB.

``python -m chatlocal`` (``make run``) serves, on one port:

- ``/ws``: WebSocket connections, turned into the API Gateway events the deployed Lambdas get;
- ``/@connections/{id}``: the management API the app posts frames through (POST/GET/DELETE);
- ``/dev/token?user=ID``: a token signed with the local secret (404 when the app takes an OpenID
  Connect issuer's tokens);
- ``/config.json``: how the web page signs in; ``/cognito``: its sign-up and sign-in, with
  ``CHAT_AUTH=cognito`` (a user pool in the embedded moto: ``cognito``);
- ``/dev/vapid``, ``/dev/push``, ``/dev/push/reject``, ``/dev/webpush/{id}``: push notifications
  (the VAPID key, what the emulated providers accepted, tokens made gone, a local push service);
- ``/``: the web chat.

Beside it: an embedded moto server for DynamoDB, SQS and SNS (unless
``AWS_ENDPOINT_URL_DYNAMODB`` / ``_SQS`` / ``_SNS`` name others), with SNS platform applications for
APNs and FCM, and pollers that run the app's SQS-triggered functions (the fan-out and push
workers) as Lambda's event source mappings do.

What stands in for which AWS service, one package each, in the order the stack starts them:

- ``aws/``: DynamoDB, SQS and SNS (the embedded moto, unless an endpoint is named) and SigV4;
- ``push/``: the push providers: SNS mobile push for APNs and FCM, a Web Push service;
- ``functions/``: Lambda, running the app's handlers on threads or in worker processes;
- ``eventsources/``: Lambda's SQS event source mappings, polling the queues;
- ``gateway/``: API Gateway's WebSocket API and management API, and the HTTP side.

Around them, the command: ``__main__`` (parse the options, build the stack), ``options`` (every
setting, checked), ``stack`` (the assembly), ``cognito`` (the sign-in modes), ``banner``,
``persistence`` and ``datadir`` (what a run keeps), ``config`` (reading the environment;
``StartupError``); and two tools:
``package`` (``python -m chatlocal.package``: the deployment package, unpacked for
``make run-package``) and ``process`` (the stack as a subprocess, for the tests and benchmarks).

Imports point one way: ``config`` imports nothing of the stack; ``aws`` only ``config``;
``functions`` ``aws``; ``eventsources`` and ``gateway`` ``functions`` (and ``gateway`` ``aws``);
``push`` none of the other packages; only the modules at the top import the packages, never the
other way (``tests/unit/chatlocal/test_layout.py`` checks it). Nothing in ``chalicelib`` imports
this package: it never ships to Lambda.
"""
