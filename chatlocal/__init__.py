"""The local stack: an API Gateway WebSocket emulator in front of the Chalice app, with DynamoDB.

``python -m chatlocal`` (``make run``) serves, on one port:

- ``/ws``: WebSocket connections, turned into the API Gateway events the deployed Lambdas get;
- ``/@connections/{id}``: the management API the app posts frames through (POST/GET/DELETE);
- ``/dev/token?user=ID``: a token signed with the local secret;
- ``/``: the web chat.

Beside it: an embedded moto server for DynamoDB and SQS (unless ``AWS_ENDPOINT_URL_DYNAMODB`` /
``AWS_ENDPOINT_URL_SQS`` name others), and pollers that run the app's SQS-triggered functions
(the fan-out worker) as Lambda's event source mappings do.

Nothing in ``chalicelib`` imports this package: it never ships to Lambda.
"""
