"""Stands in for the push providers the app's push worker calls: APNs and FCM as SNS mobile push
(on the embedded moto), and a Web Push service of the stack's own; plus the record of what the
providers accepted (``GET /dev/push``) and a way to make a token gone.

- ``providers``: the push settings the app gets so that push works out of the box, the SNS
  platform applications, and ``PushRecorder``.
- ``webpush_service``: a Web Push service for subscriptions at ``{base}/dev/webpush/{id}``,
  checking each request as a browser vendor's service does (RFC 8030, 8291, 8292).
- ``reject``: a token made gone, as a provider does once the app is uninstalled or the browser
  unsubscribed.
- ``dev_routes``: ``/dev/vapid``, ``/dev/push``, ``/dev/push/reject`` and ``/dev/webpush/{id}``.
- ``worker_hook``: run inside each Lambda worker (``runtime_worker --setup``) to send the push
  record back to the stack.

How faithful (docs/local-stack.md, "How faithful push is"): the decision, the job, the worker and
each provider's calls are the deployed code. moto's SNS checks neither credentials nor payloads,
disables an endpoint only when ``/dev/push/reject`` says so, and reaches no phone; Web Push is the
real protocol end to end, without a vendor's quotas or 429s.

May import: no other package of the stack but ``chatlocal.config``; ``chalicelib`` (devices,
notifications, the store) and ``infra.vapid_key``. ``worker_hook`` imports the standard library
and, in the worker, the code folder's ``chalicelib`` only.
"""
