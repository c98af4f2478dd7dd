"""Package tier: the local stack serving the deployment package, as ``make run-package`` does:
``chalice package`` builds it (once per session, into a temporary folder), its zip is unpacked,
and each function runs in worker processes that see only the zip's contents and the standard
library. The integration scenarios run against it (tests/package/test_scenarios.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from chatlocal.package import Package, build
from tests.integration.conftest import user as user  # the scenarios' fresh user ids
from tests.stack import LocalStack


def report(config: pytest.Config, line: str) -> None:
    """A figure on the terminal, whatever the capture mode."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Package:
    built = build(tmp_path_factory.mktemp("package"))
    report(pytestconfig, f"package tier: chalice package + unpack took {built.seconds:.1f} s")
    return built


@pytest.fixture(scope="session")
def stack(package: Package, pytestconfig: pytest.Config) -> Iterator[LocalStack]:
    started = time.monotonic()
    with LocalStack(CHAT_JWT_SECRET="package-secret-" * 3, CHAT_LAMBDA_PACKAGE=str(package.code)) as running:
        report(
            pytestconfig,
            f"package tier: the stack with its workers started in {time.monotonic() - started:.1f} s",
        )
        yield running
