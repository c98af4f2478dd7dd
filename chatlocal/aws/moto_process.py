"""The embedded moto server (DynamoDB, SQS, SNS) in a process of its own, so that its request
handling (the profile's largest share under load: parsing, the DynamoDB model, serializing the
answers) runs on another core than the gateway's.

    python -m chatlocal.aws.moto_process HOST

The child starts moto as the stack's process would (``chatlocal.aws.moto_server``: requests
serialized per service by ``chatlocal.aws.moto_atomic``), and keeps the saved data too
(``chatlocal.aws.table_store.TableStore`` reads moto's in-process backend, so it must run where moto
runs). It talks to the parent in lines of JSON: its first line on stdout is ``{"url": URL}`` (or
``{"error": MESSAGE}`` and exit status 1); then each request line on stdin gets one answer line:

- ``{"op": "restore", "file": PATH, "region": REGION, "journal": PATH | null, "mode": "0" | "1" |
  "fsync"}`` -> ``{"restored": null | {"items", "tables", "missing_tables", "saved_at",
  "replayed", "journaled_at"}}`` (the journal, ``chatlocal.aws.journal``, is kept here too: it
  is written where moto answers);
- ``{"op": "save_if_changed"}`` -> ``{"saved": true | false}``;
- ``{"op": "restore_objects", "folder": PATH}`` -> ``{"restored": null | {"objects", "buckets",
  "missing_buckets", "saved_at"}}`` and ``{"op": "save_objects_if_changed"}`` -> ``{"saved": ...}``:
  the same for the embedded S3's objects (``chatlocal.aws.s3.ObjectStore``);
- any failure -> ``{"error": MESSAGE, "startup": true | false}`` (startup: the saved data cannot
  be read, a StartupError in the parent).

End of stdin stops the server, after a last save if anything changed (the parent closes the pipe
after its own save; when the parent is killed the pipe ends too); the child exits 0. SIGINT,
SIGTERM, SIGHUP and SIGQUIT are ignored (Ctrl-C, Ctrl-\\ or the terminal closing reaches the whole
process group): the parent saves and then closes the pipe.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from chatlocal.aws.gcpause import freeze_after_full_collections
from chatlocal.aws.moto_server import start_moto_here
from chatlocal.aws.s3 import ObjectStore, RestoredObjects
from chatlocal.aws.table_store import Restored, TableStore
from chatlocal.config import StartupError

log = logging.getLogger("chatlocal.moto")

START_TIMEOUT = 120.0  # importing moto on a loaded 2-core machine
STOP_TIMEOUT = 5.0


class MotoProcessError(Exception):
    """The moto process failed a request or ended."""


class MotoProcess:
    """The parent's side: the child process, its URL, and its requests."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        self._lock = threading.Lock()  # one request line and its answer at a time

    @classmethod
    def start(cls, host: str) -> MotoProcess:
        """A running moto server in a child process; StartupError if it cannot start. Blocking."""
        process = subprocess.Popen(
            [sys.executable, "-m", "chatlocal.aws.moto_process", host],
            cwd=Path(__file__).resolve().parents[2],  # the repository
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the stack's log
            text=True,
        )
        first = _read_answer(process, START_TIMEOUT)
        if "url" not in first:
            _end(process)
            raise StartupError(f"the embedded moto cannot start: {first.get('error', first)}")
        return cls(process, str(first["url"]))

    def request(self, **fields: Any) -> dict[str, Any]:
        """One request's answer; StartupError or MotoProcessError when it failed."""
        with self._lock:
            stdin = self.process.stdin
            assert stdin is not None
            try:
                stdin.write(json.dumps(fields) + "\n")
                stdin.flush()
            except (OSError, ValueError):
                raise MotoProcessError("the moto process has ended") from None
            answer = _read_answer(self.process, None)
        if "error" in answer:
            if answer.get("startup"):
                raise StartupError(str(answer["error"]))
            raise MotoProcessError(str(answer["error"]))
        return answer

    def stop(self) -> None:
        """Close its input (the server stops, the child exits); killed if it has not in time."""
        with self._lock:
            _end(self.process)


class RemoteTableStore:
    """``TableStore``'s methods the stack calls, run by the moto process on its backend."""

    def __init__(
        self, moto: MotoProcess, file: Path, region: str, journal_file: Path | None = None, mode: str = "1"
    ) -> None:
        self.moto = moto
        self.file = file
        self.region = region
        self.journal_file = journal_file
        self.mode = mode
        self.restored = False

    def restore(self) -> Restored | None:
        answer = self.moto.request(
            op="restore",
            file=str(self.file),
            region=self.region,
            journal=None if self.journal_file is None else str(self.journal_file),
            mode=self.mode,
        )
        self.restored = True
        found = answer.get("restored")
        if found is None:
            return None
        return Restored(
            int(found["items"]),
            int(found["tables"]),
            tuple(found["missing_tables"]),
            str(found["saved_at"]),
            int(found.get("replayed", 0)),
            str(found.get("journaled_at", "")),
        )

    def save_if_changed(self) -> bool:
        """As TableStore's; OSError when the child could not write the file (or has ended)."""
        try:
            return bool(self.moto.request(op="save_if_changed")["saved"])
        except MotoProcessError as exc:
            raise OSError(str(exc)) from None


class RemoteObjectStore:
    """``ObjectStore``'s methods the stack calls, run by the moto process on its backend."""

    def __init__(self, moto: MotoProcess, folder: Path) -> None:
        self.moto = moto
        self.folder = folder
        self.file = folder / "objects.json"
        self.restored = False

    def restore(self) -> RestoredObjects | None:
        found = self.moto.request(op="restore_objects", folder=str(self.folder)).get("restored")
        self.restored = True
        if found is None:
            return None
        return RestoredObjects(
            int(found["objects"]),
            int(found["buckets"]),
            tuple(found["missing_buckets"]),
            str(found["saved_at"]),
        )

    def save_if_changed(self) -> bool:
        try:
            return bool(self.moto.request(op="save_objects_if_changed")["saved"])
        except MotoProcessError as exc:
            raise OSError(str(exc)) from None


def _read_answer(process: subprocess.Popen[str], timeout: float | None) -> dict[str, Any]:
    stdout = process.stdout
    assert stdout is not None
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not line or not line[0]:
        return {"error": "the moto process ended" if process.poll() is not None else "no answer in time"}
    try:
        answer = json.loads(line[0])
    except ValueError:
        return {"error": f"unreadable answer {line[0][:200]!r}"}
    return answer if isinstance(answer, dict) else {"error": f"unreadable answer {line[0][:200]!r}"}


def _end(process: subprocess.Popen[str]) -> None:
    for pipe in (process.stdin,):
        if pipe is not None:
            with contextlib.suppress(OSError, ValueError):
                pipe.close()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        with contextlib.suppress(OSError):
            process.stdout.close()


# -- the child ------------------------------------------------------------------------------------


def serve(host: str, requests: IO[str], answers: IO[str]) -> int:
    """Run moto until ``requests`` ends, answering each request line (see the module's docstring)."""
    try:
        server, url = start_moto_here(host)
    except Exception as exc:
        _answer(answers, {"error": f"{type(exc).__name__}: {exc}"})
        return 1
    _answer(answers, {"url": url})
    kept = _Kept()
    try:
        for line in requests:
            _answer(answers, _handle(kept, line))
    finally:
        store = kept.tables
        if store is not None and store.restored:
            try:  # the parent saved already unless it was killed: then this is the save
                store.save_if_changed()
            except Exception:
                log.exception("moto process: the last save failed (the journal keeps the writes)")
            store.close()
        if kept.objects is not None and kept.objects.restored:
            try:
                kept.objects.save_if_changed()
            except Exception:
                log.exception("moto process: the last save of the files failed")
        server.stop()
    return 0


class _Kept:
    """What the child keeps for the parent: the tables' store and the objects' store."""

    tables: TableStore | None = None
    objects: ObjectStore | None = None


def _handle(kept: _Kept, line: str) -> dict[str, Any]:
    try:
        request = json.loads(line)
        op = request.get("op") if isinstance(request, dict) else None
        if op == "restore":
            journal_file = request.get("journal")
            kept.tables = TableStore(
                Path(request["file"]),
                str(request["region"]),
                None if journal_file is None else Path(journal_file),
                str(request.get("mode", "1")),
            )
            restored = kept.tables.restore()
            return {"restored": None if restored is None else asdict(restored)}
        if op == "save_if_changed":
            if kept.tables is None:
                return {"error": "save before restore", "startup": False}
            return {"saved": kept.tables.save_if_changed()}
        if op == "restore_objects":
            kept.objects = ObjectStore(Path(request["folder"]))
            found = kept.objects.restore()
            return {"restored": None if found is None else asdict(found)}
        if op == "save_objects_if_changed":
            if kept.objects is None:
                return {"error": "save before restore", "startup": False}
            return {"saved": kept.objects.save_if_changed()}
        return {"error": f"unknown request {line.strip()[:200]!r}", "startup": False}
    except StartupError as exc:
        return {"error": str(exc), "startup": True}
    except Exception as exc:  # an OSError writing the file, a malformed request: answered
        log.exception("moto process request failed")
        return {"error": f"{type(exc).__name__}: {exc}", "startup": False}


def _answer(answers: IO[str], answer: dict[str, Any]) -> None:
    answers.write(json.dumps(answer) + "\n")
    answers.flush()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m chatlocal.aws.moto_process HOST", file=sys.stderr)
        return 2
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("werkzeug",):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    answers = sys.stdout
    sys.stdout = sys.stderr  # anything moto prints goes to the log, not into the answers
    freeze_after_full_collections()  # the tables' items would make each full collection long
    return serve(argv[0], sys.stdin, answers)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
