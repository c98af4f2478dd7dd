"""The local stack: an API Gateway WebSocket emulator in front of the Chalice app, with DynamoDB.

``python -m chatlocal`` (``make run``) serves, on one port:

- ``/ws``: WebSocket connections, turned into the API Gateway events the deployed Lambdas get;
- ``/@connections/{id}``: the management API the app posts frames through (POST/GET/DELETE);
- ``/dev/token?user=ID``: a token signed with the local secret;
- ``/dev/vapid``, ``/dev/push``, ``/dev/push/reject``, ``/dev/webpush/{id}``: push notifications
  (the VAPID key, what the emulated providers accepted, tokens made gone, a local push service);
- ``/``: the web chat.

Beside it: an embedded moto server for DynamoDB, SQS and SNS (unless
``AWS_ENDPOINT_URL_DYNAMODB`` / ``_SQS`` / ``_SNS`` name others), with SNS platform applications for
APNs and FCM, and pollers that run the app's SQS-triggered functions (the fan-out and push
workers) as Lambda's event source mappings do.

Nothing in ``chalicelib`` imports this package: it never ships to Lambda.
"""
