"""One Lambda-like execution environment: an interpreter of its own that loads one function's
handler from a code folder and runs its invocations, one at a time, for the parent on a pipe.

    python -I -S -u chatlocal/functions/runtime_worker.py [--setup FILE ...] HANDLER CODE_DIR [PATH ...]

Standard library only, and nothing else on ``sys.path`` but ``CODE_DIR`` (what Lambda unpacks
into ``/var/task``), the extra ``PATH`` entries if any, and the standard library: with ``-I -S``
neither site-packages, the user's site, ``PYTHONPATH`` nor this file's folder is there, so an
import the package cannot satisfy fails here as it would on Lambda. ``HANDLER`` is Lambda's
handler string (``app.connect``: module ``app``, attribute ``connect``). The working directory
should be ``CODE_DIR``, as it is on Lambda. ``--setup FILE`` (repeatable, run in order): after
loading the handler, run FILE (it may import what CODE_DIR holds) and call its ``install(emit)``:
the local stack's hooks into the code (its push record; ``CHAT_FAULTS``' injector),
``emit(kind, payload)`` sending the parent a side message.

The pipe (stdin from the parent, the original stdout to it; whatever the code prints goes to
stderr, as Lambda sends it to the function's log): frames of a 4-byte big-endian length and
that many bytes of UTF-8 JSON.

- worker -> parent, once, after loading the handler: ``{"ready": {"path": [...]}}``, or
  ``{"error": ERROR}`` and exit status 1 (Lambda's init error).
- worker -> parent, at any time during an invocation: ``{"emit": {"kind", "payload"}}`` (the
  setup's side messages), before the invocation's reply.
- parent -> worker: ``{"event": ..., "context": {"function_name", "aws_request_id",
  "remaining_ms", "memory_mb"}}``.
- worker -> parent: ``{"result": ...}`` or ``{"error": ERROR}`` (the handler raised, or its
  result is not JSON), ERROR being Lambda's ``{"errorType", "errorMessage", "stackTrace"}``.
- end of stdin: exit status 0. SIGINT and SIGTERM are ignored: the parent ends its workers
  (closing their stdin) once it has stopped invoking them.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import os
import runpy
import signal
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import IO, Any

HEADER = struct.Struct(">I")


class Context:
    """The context object a Python Lambda handler gets (the attributes handlers commonly read)."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.function_name = str(fields.get("function_name", ""))
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{self.function_name}"
        self.memory_limit_in_mb = int(fields.get("memory_mb", 128))
        self.aws_request_id = str(fields.get("aws_request_id", ""))
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + int(fields.get("remaining_ms", 0)) / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def error(error_type: str, message: str, tb: Any = None) -> dict[str, Any]:
    """Lambda's error shape; the trace holds the code's frames, not this runtime's."""
    frames = [frame for frame in traceback.extract_tb(tb) if not _runtime_frame(frame.filename)]
    return {"errorType": error_type, "errorMessage": message, "stackTrace": traceback.format_list(frames)}


def _runtime_frame(filename: str) -> bool:
    return (
        filename == os.path.abspath(__file__)
        or filename.startswith("<frozen ")
        or os.path.dirname(filename) == os.path.dirname(importlib.__file__ or "")
    )


def load(handler: str) -> tuple[Callable[[Any, Any], Any] | None, dict[str, Any] | None]:
    """The handler function, or Lambda's init error for why it cannot be had."""
    module_name, _, attribute = handler.rpartition(".")
    if not module_name or not attribute:
        return None, error("Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return None, error(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", exc.__traceback__
        )
    except SyntaxError as exc:
        return None, error("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}")
    except Exception as exc:  # what the module raised while loading: Lambda reports it as is
        return None, error(type(exc).__name__, str(exc), exc.__traceback__)
    function = getattr(module, attribute, None)
    if not callable(function):
        return None, error(
            "Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'"
        )
    return function, None


def invoke(function: Callable[[Any, Any], Any], request: dict[str, Any]) -> bytes:
    """One invocation's reply frame body."""
    try:
        result = function(request["event"], Context(request.get("context") or {}))
    except Exception as exc:  # the function's error, reported to the caller as Lambda does
        return encode({"error": error(type(exc).__name__, str(exc), exc.__traceback__)})
    try:
        return encode({"result": result})
    except (TypeError, ValueError) as exc:
        return encode({"error": error("Runtime.MarshalError", f"Unable to marshal response: {exc}")})


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, allow_nan=False).encode()


def read_frame(stream: IO[bytes]) -> dict[str, Any] | None:
    """The next request, or None at the end of the input."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (length,) = HEADER.unpack(header)
    body = stream.read(length)
    if len(body) < length:
        return None
    request: dict[str, Any] = json.loads(body)
    return request


class Pipe:
    """Frames to the parent, whole, from any thread (the setup's side messages may come from
    the handler's threads)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, body: bytes) -> None:
        with self._lock:
            self._stream.write(HEADER.pack(len(body)) + body)
            self._stream.flush()

    def emit(self, kind: str, payload: Any) -> None:
        self.write(encode({"emit": {"kind": kind, "payload": payload}}))


def set_up(setups: list[str], pipe: Pipe) -> dict[str, Any] | None:
    """Run each setup file's ``install(emit)``; the first error in Lambda's shape."""
    for setup in setups:
        try:
            runpy.run_path(setup)["install"](pipe.emit)
        except Exception as exc:  # reported as an init error: the stack does not start
            return error(type(exc).__name__, f"setup {setup}: {exc}", exc.__traceback__)
    return None


def isolate(code_dir: str, extra: list[str]) -> None:
    """``sys.path`` as Lambda has it: the code first, then the runtime's own (here: the standard
    library, which ``-I -S`` left alone in it)."""
    here = os.path.dirname(os.path.abspath(__file__))
    stdlib = [p for p in sys.path if p and os.path.abspath(p) != here]
    sys.path[:] = [os.path.abspath(code_dir), *(os.path.abspath(p) for p in extra), *stdlib]


def take_stdout() -> IO[bytes]:
    """The pipe to the parent, private: fd 1 now goes to stderr, with whatever the code prints."""
    pipe = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    return pipe


def configure_logging(function_name: str) -> None:
    level = (os.environ.get("LOG_LEVEL") or "WARNING").upper()
    logging.basicConfig(
        level=level if isinstance(logging.getLevelName(level), int) else "WARNING",
        format=f"%(asctime)s %(levelname)s {function_name}[{os.getpid()}] %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("botocore", "pynamodb", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str]) -> int:
    setups = []
    while argv[:1] == ["--setup"] and len(argv) > 1:
        setups.append(os.path.abspath(argv[1]))
        argv = argv[2:]
    if len(argv) < 2:
        print("usage: runtime_worker.py [--setup FILE ...] HANDLER CODE_DIR [PATH ...]", file=sys.stderr)
        return 2
    handler, code_dir, extra = argv[0], argv[1], argv[2:]
    # the stack stops its workers: what reaches its whole process group does not
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_IGN)
    isolate(code_dir, extra)
    pipe = Pipe(take_stdout())
    configure_logging(os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or handler)
    function, init_error = load(handler)
    if function is not None and setups:
        init_error = set_up(setups, pipe)
    if function is None or init_error is not None:
        pipe.write(encode({"error": init_error}))
        return 1
    gc.freeze()  # what the init made lives as long as the worker: full collections skip it
    pipe.write(encode({"ready": {"path": sys.path}}))
    while (request := read_frame(sys.stdin.buffer)) is not None:
        pipe.write(invoke(function, request))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
