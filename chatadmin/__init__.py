"""The operator's command line for users' reports (``python -m chatadmin``): list the open
reports newest first, show one with the chat's surrounding messages, and resolve it (dismiss it,
delete the message, or remove its sender from the group), each action recorded on the report.

It works on a stage's tables with plain boto3 credentials, region and table prefix, or on the
local stack's embedded DynamoDB (``--endpoint``, the URL ``make run`` prints). A delete and a
removal go through the backend's own domain rules and storage (``chalicelib.domain``,
``chalicelib.storage``), so the message, the chat's copy of its last message, the changes feed
and the files are handled as a member's delete is. May import ``chalicelib``; ``chalicelib``
never imports it, and nothing here is deployed to Lambda.

- ``settings``: where the tables are (flags and environment), applied before ``chalicelib``'s
  tables are imported (they read the prefix and region then);
- ``desk``: the reports table as the operator reads and writes it (Query on ``by_status``,
  GetItem, a conditional UpdateItem per action);
- ``moderation``: deleting a message and removing a sender, and the frames that tell viewers;
- ``output``: what is printed, for people or as JSON; ``cli``: the commands and exit codes.
"""
