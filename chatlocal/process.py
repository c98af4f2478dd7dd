"""Start the local stack (``python -m chatlocal``) as a subprocess, as ``make run`` does, on a
free port, and talk to its HTTP side; used by the test tiers and the benchmarks.

A stack ends with whoever started it: ``with LocalStack(...)`` stops it on the way out, Ctrl-C
while it starts or stops kills it, and a program that calls ``exit_on_stop_signals()`` (the
benchmarks, the chaos run) turns SIGTERM (``timeout``, a killed ``make``) and SIGHUP (a closed
terminal) into that same way out. Killed outright, it leaves the stack to notice its parent's
end (``chatlocal.stack.watch_parent``)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from chatlocal.aws.services import LOCAL_CREDENTIALS
from chatlocal.aws.sigv4 import Credentials, sign_headers

ROOT = Path(__file__).resolve().parents[1]  # the repository
LISTENING = re.compile(r"listening on (http://\S+)")
DYNAMODB = re.compile(r"DynamoDB\s+(http://\S+)")
SQS = re.compile(r"SQS\s+(http://\S+)")
S3 = re.compile(r"S3\s+(http://\S+)")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # exit_on_stop_signals: Ctrl-C raises already


def clean_env(**overrides: str) -> dict[str, str]:
    """The caller's environment without AWS or chat settings (the tests set their own). Every
    stack starts clean and keeps nothing (``CHAT_EPHEMERAL=1``) unless the overrides name a data
    folder (``CHAT_DATA_DIR``, with ``CHAT_EPHEMERAL=""``)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CHAT_")) or k in ("AWS_REGION", "AWS_DEFAULT_REGION")
    }
    env.update({"HOST": "127.0.0.1", "PORT": "0", "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING"})
    env["CHAT_EPHEMERAL"] = "1"
    env.update(overrides)
    return env


def exit_on_stop_signals() -> None:
    """In the main thread of a program that starts stacks: SIGTERM and SIGHUP raise SystemExit as
    Ctrl-C raises KeyboardInterrupt, so every ``with LocalStack(...)`` stops its stack before the
    program ends (``timeout 60 make bench`` sends SIGTERM; a closed terminal, SIGHUP). The first
    one is acted on; the rest are ignored while the stacks stop. A signal already ignored (under
    ``nohup``) stays ignored."""

    def leave(signum: int, frame: object) -> None:
        for other in STOP_SIGNALS:
            signal.signal(other, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, leave)


class LocalStack:
    def __init__(self, command: list[str] | None = None, start_timeout: float = 90, **env: str) -> None:
        self.command = command or [sys.executable, "-m", "chatlocal"]
        self.env = clean_env(**env)
        self.start_timeout = start_timeout
        self.url = ""
        self.dynamodb_endpoint = ""
        self.sqs_endpoint = ""
        self.s3_endpoint = ""
        self.output: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self._ready = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # signals reach `make` and its child together
        )
        try:
            threading.Thread(target=self._read_output, daemon=True).start()
            ready = self._ready.wait(self.start_timeout)
        except BaseException:  # Ctrl-C or a stop signal while it starts: it ends with its owner
            self.kill()
            raise
        if not ready or not self.url:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(2)  # it stopped by itself (its output ended): keep its status
            self.kill()
            raise RuntimeError("local stack did not start:\n" + self.text)
        return self

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if match := LISTENING.search(line):
                self.url = match.group(1)
            if match := DYNAMODB.search(line):
                self.dynamodb_endpoint = match.group(1)
            if match := SQS.search(line):
                self.sqs_endpoint = match.group(1)
            if line.lstrip().startswith("S3 ") and (match := S3.search(line)):
                self.s3_endpoint = match.group(1)
            if line.startswith("Ctrl-C stops it"):
                self._ready.set()
        self._ready.set()

    @property
    def text(self) -> str:
        return "".join(self.output)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 10) -> float:
        """Signal the stack and wait for it to exit; returns how long that took."""
        assert self.process is not None
        started = time.monotonic()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signum)
            with contextlib.suppress(ProcessLookupError):  # a paused stack (chaos) must act on it
                os.killpg(self.process.pid, signal.SIGCONT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        return time.monotonic() - started

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop()
        except Exception:
            self.kill()
        except BaseException:  # a second Ctrl-C while it stops: it ends now
            self.kill()
            raise

    # -- what it serves --------------------------------------------------------------------------

    @property
    def ws_base(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    def token(self, user: str) -> str:
        return str(self.get_json(f"/dev/token?user={user}")["token"])

    def ws_url(self, user: str) -> str:
        return f"{self.ws_base}?token={self.token(user)}"

    def connections(self) -> list[dict[str, Any]]:
        return list(self.get_json("/dev/connections"))

    def drop(self, connection_id: str) -> None:
        self.request("POST", f"/dev/connections/{connection_id}/drop")

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.load(response)

    @property
    def credentials(self) -> Credentials:
        """What the stack's app signs management API requests with (and so what the stack takes)."""
        key, secret = self.env.get("AWS_ACCESS_KEY_ID"), self.env.get("AWS_SECRET_ACCESS_KEY")
        if key and secret:
            # botocore reads AWS_SECURITY_TOKEN first
            token = self.env.get("AWS_SECURITY_TOKEN") or self.env.get("AWS_SESSION_TOKEN") or None
            return Credentials(key, secret, token)
        return Credentials(LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"], LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    @property
    def region(self) -> str:
        return self.env.get("AWS_REGION") or self.env.get("AWS_DEFAULT_REGION") or "us-east-1"

    def management(self, method: str, connection_id: str, data: bytes = b"") -> tuple[int, bytes]:
        """A management API request (``POST|GET|DELETE /@connections/{id}``), SigV4-signed with
        the stack's credentials as the app's boto3 client signs it."""
        return self.request(method, f"/@connections/{connection_id}", data, sign=True)

    def request(
        self, method: str, path: str, data: bytes | None = None, sign: bool = False
    ) -> tuple[int, bytes]:
        """Any request; ``sign`` adds a SigV4 signature (the management API requires one)."""
        headers = {}
        if sign:
            headers = sign_headers(self.credentials, self.region, method, self.url + path, data or b"")
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
