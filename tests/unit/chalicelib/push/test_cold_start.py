"""What a cold start imports: the WebSocket and fan-out Lambdas never send Web Push, so
importing the app does not import ``requests`` (a tenth of a second of every cold start); the
Web Push provider imports it at its first send."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]


def imported_after(code: str) -> set[str]:
    program = code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(done.stdout.split())


def test_importing_the_app_and_building_web_push_imports_no_requests():
    modules = imported_after(
        "import app\n"
        "from chalicelib.push.providers import WebPushProvider\n"
        "WebPushProvider(lambda: 'key', 'mailto:ops@example.com')"
    )
    assert "app" in modules and "chalicelib.push.providers" in modules
    assert "requests" not in modules and "chalicelib.push.transport" not in modules


def test_the_first_send_makes_the_guarded_session():
    from chalicelib.push.providers import WebPushProvider
    from chalicelib.push.transport import GuardedSession

    provider = WebPushProvider(lambda: "key", "mailto:ops@example.com")
    assert provider._session is None
    session = provider.session()
    assert isinstance(session, GuardedSession) and provider.session() is session
