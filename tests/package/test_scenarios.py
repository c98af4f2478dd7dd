"""The integration tier's scenarios (tests/integration/test_scenarios.py), every one of them, and
push scenarios that read the stack's push record and send real Web Push, and a file uploaded,
sent and downloaded, against the stack serving the deployment package (this folder's ``stack``)."""

from __future__ import annotations

from tests.integration import test_scenarios
from tests.integration.attachments import test_attachments
from tests.integration.push import test_push

SCENARIOS = {name: test for name, test in vars(test_scenarios).items() if name.startswith("test_")}
PUSH = (  # the record (/dev/push) comes from the push workers through their pipes
    "test_offline_member_gets_one_notification_per_device_with_the_contract_fields",
    "test_web_push_end_to_end_to_a_receiver_on_localhost",
)
globals().update(SCENARIOS)
globals().update({name: getattr(test_push, name) for name in PUSH})
# the workers get the bucket and the embedded S3's address as the source tree's do
ATTACHMENTS = "test_a_file_uploaded_and_sent_reaches_the_other_member_and_downloads_identically"
globals()[ATTACHMENTS] = getattr(test_attachments, ATTACHMENTS)
