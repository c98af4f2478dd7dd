"""One botocore data loader for every session of a process: a session reads and parses the
service's model and endpoints.json (about 0.2 s) unless a loader that did is shared with it. What
is loaded is the same files; only the reading is done once. The suite's own processes share one
(tests/conftest.py); ``PRELUDE`` does the same first thing in a Python subprocess a test starts."""

import functools

import botocore.loaders
import botocore.session


def share() -> None:
    botocore.session.create_loader = functools.lru_cache(maxsize=None)(botocore.loaders.create_loader)  # type: ignore[attr-defined]


PRELUDE = "from tests.shared_loader import share; share()\n"
