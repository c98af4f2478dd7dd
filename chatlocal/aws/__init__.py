"""Stands in for the AWS services the app calls (DynamoDB, SQS, SNS) and for AWS's request
signing: one embedded moto server, in the stack's process or a child of its own, for every
service whose ``AWS_ENDPOINT_URL_<SERVICE>`` is unset; a named endpoint is used as it is.

- ``services``: which endpoint serves each service; starting the embedded moto; the credentials
  the app signs with.
- ``moto_server``: moto's server in this process, made to behave like the services by
  ``moto_atomic`` (one request at a time per service, 100-item transactions that copy only what
  they touch, ``ClientRequestToken`` honoured, a count of writes) and ``moto_fast`` (DynamoDB
  answers serialized without moto's alias search, byte for byte moto's JSON).
- ``moto_process``: the same server in a child process (``python -m chatlocal.aws.moto_process``),
  which also keeps the saved data; ``gcpause`` keeps its full garbage collections short.
- ``table_store``: the embedded DynamoDB's items saved to a JSON file and put back at start.
- ``faults``: AWS calls failing the way AWS makes them fail (``CHAT_FAULTS``), in the stack's
  process or, as a setup of each Lambda worker process, in the workers.
- ``sigv4``: Signature Version 4, checked as API Gateway checks its management API, and signed
  as botocore signs.

How faithful: the app's storage, queue and push code is the code that runs on AWS (boto3 and
PynamoDB find these endpoints through ``AWS_ENDPOINT_URL_<SERVICE>``), so the model is moto's:
DynamoDB isolates each request and SQS never hands one message to two receivers, as on AWS; there
is no throttling, capacity or latency unless ``faults`` injects it, and no IAM check (the test
suite compares the calls it recorded with the IAM policy instead).

May import: ``chatlocal.config`` only, of the stack; moto, botocore, and ``chalicelib.storage``
to create the tables.
"""
