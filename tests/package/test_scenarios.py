"""The integration tier's scenarios (tests/integration/test_scenarios.py), every one of them,
against the stack serving the deployment package (this folder's ``stack``)."""

from __future__ import annotations

from tests.integration import test_scenarios as integration

SCENARIOS = {name: test for name, test in vars(integration).items() if name.startswith("test_")}
globals().update(SCENARIOS)
