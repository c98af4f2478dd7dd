"""Getting frames to connections: ``posting`` (the API Gateway management API, 410s, retries,
parallel posts) and ``fanout`` (inline for small audiences, SQS shards and their worker for large
ones). Imports the domain, ``queues`` and botocore; knows nothing of chats or storage.
"""
