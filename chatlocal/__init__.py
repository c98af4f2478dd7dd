"""The local stack: an API Gateway WebSocket emulator in front of the Chalice app, with DynamoDB.

``python -m chatlocal`` (``make run``) serves, on one port:

- ``/ws``: WebSocket connections, turned into the API Gateway events the deployed Lambdas get;
- ``/@connections/{id}``: the management API the app posts frames through (POST/GET/DELETE);
- ``/dev/token?user=ID``: a token signed with the local secret;
- ``/``: the web chat.

Nothing in ``chalicelib`` imports this package: it never ships to Lambda.
"""
