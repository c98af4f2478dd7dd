"""Stands in for Lambda's SQS event source mappings, for the app's ``@app.on_sqs_message``
handlers (the fan-out and push workers): pollers receive batches from each queue, invoke the
function with the SQS event, and delete what succeeded.

- ``sqs_events``: the parts without I/O: which function consumes which queue, the event a batch
  becomes, and what the function's answer (``batchItemFailures``) means for each message.
- ``sqs_poller``: ``EventSourceMapping``, the pollers, their boto3 calls on threads of their own.
- ``queues``: each queue and its dead-letter queue, created as ``infra/tables.json`` creates them.

How faithful: the event, partial batch responses (``ReportBatchItemFailures``), the visibility
timeout and the redrive to the dead-letter queue behave as on AWS (the queues themselves are
``chatlocal.aws``'s). Differs: a mapping keeps its ``maximum_concurrency`` (else 5) batches in
flight where Lambda scales up while the queue has messages, and long-polls 1 s at a time (Lambda:
20 s) so that stopping is prompt.

May import: ``chatlocal.functions`` (the ``Lambdas`` it invokes) and ``chatlocal.config``.
"""
