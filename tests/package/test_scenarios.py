"""The integration tier's scenarios (tests/integration/test_scenarios.py), every one of them, and
push scenarios that read the stack's push record and send real Web Push, against the stack
serving the deployment package (this folder's ``stack``)."""

from __future__ import annotations

from tests.integration import test_scenarios
from tests.integration.push import test_push

SCENARIOS = {name: test for name, test in vars(test_scenarios).items() if name.startswith("test_")}
PUSH = (  # the record (/dev/push) comes from the push workers through their pipes
    "test_offline_member_gets_one_notification_per_device_with_the_contract_fields",
    "test_web_push_end_to_end_to_a_receiver_on_localhost",
)
globals().update(SCENARIOS)
globals().update({name: getattr(test_push, name) for name in PUSH})
