"""Files of messages (docs/protocol.md "Attachments"): what the client uploads to S3 and
downloads from it, beside the WebSocket.

    form       Sans-I/O: a file checked before any request, the multipart/form-data body of
               the presigned POST (streamed: the file is read once, from disk), and what to do
               after a failed upload (again with the same form, with a new form, or give up)
    transfer   the blocking HTTP of an upload and a download (``urllib``), run in a thread by
               ``ChatClient.send_files`` and ``ChatClient.download``

Imports only ``chatclient.errors`` (and the standard library).
"""
