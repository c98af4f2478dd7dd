"""``python -m chatlocal [--allow-remote-dev]``: the whole local stack (moto and the Lambda workers in
processes of its own unless CHAT_PROCESSES=1). See docs/local-stack.md; every setting is listed in
``chatlocal.options``.

Parse the options (``chatlocal.options``), build and run the stack (``chatlocal.stack``), which
prints the banner (``chatlocal.banner``) once it is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence

from chatlocal.config import StartupError, exposed_warning, is_loopback, log_level
from chatlocal.datadir import DataDir, journal_mode
from chatlocal.options import Options
from chatlocal.persistence import Persistence, resolve_secret, resolve_vapid, say

# Looked up here when main runs, so that a test can replace them (bind elsewhere, serve nothing).
from chatlocal.stack import bind as _bind
from chatlocal.stack import serve as _serve


def main(argv: Sequence[str] = ()) -> int:
    env = os.environ
    try:
        level = log_level(env)
        options = Options.from_env(env, argv)
    except (StartupError, ValueError) as exc:
        print(f"chatlocal: cannot start: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    for noisy in ("werkzeug", "botocore", "pynamodb", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    data: DataDir | None = None
    try:
        journal = journal_mode(env)
        data = DataDir.open(options.data_dir) if options.data_dir is not None else None
        persistence = Persistence(data, resolve_secret(options, data), journal)
        options = dataclasses.replace(options, vapid=resolve_vapid(options, data))
        sock = _bind(options.host, options.port)
        if not is_loopback(options.host):
            warning = exposed_warning(options.host, sock.getsockname()[1], options.allow_remote_dev)
            print(warning, file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C while stopping
            asyncio.run(_serve(options, persistence, sock, env))
    except StartupError as exc:
        print(f"chatlocal: cannot start: {exc}", file=sys.stderr)
        return 2
    finally:
        if data is not None:
            data.close()
    say("Stopped.")
    return 0


def exit_now(status: int) -> None:
    """Exit without joining the threads still alive: the data is saved and every socket closed,
    and what is left is invocations that outlived the grace period and the app's thread pools.
    The interpreter would run their queued work to the end first (the management posts of a
    flood, each retried against a closed server): seconds of 100% CPU after "Stopped."."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(status)


if __name__ == "__main__":
    exit_now(main(sys.argv[1:]))
