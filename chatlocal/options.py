"""The settings of ``python -m chatlocal [--allow-remote-dev]``, read from the environment and
checked before anything starts: ``Options.from_env`` raises StartupError naming a bad variable.

Environment: HOST (127.0.0.1; anything else is warned about, and turns the /dev routes off unless
--allow-remote-dev or CHAT_ALLOW_REMOTE_DEV=1), PORT (8000; 0 picks a free one),
CHAT_DATA_DIR (.local in the repository), CHAT_EPHEMERAL (1: keep nothing),
CHAT_SAVE_INTERVAL_SECONDS (30), CHAT_JWT_SECRET (unset: generated once and kept in the data
folder), CHAT_IDLE_TIMEOUT_SECONDS (600), CHAT_LAMBDA_CONCURRENCY (64), AWS_ENDPOINT_URL_DYNAMODB,
AWS_ENDPOINT_URL_SQS and AWS_ENDPOINT_URL_SNS (unset: embedded moto), CHAT_TABLE_PREFIX
(chat-local), CHAT_FANOUT_QUEUE ({prefix}-fanout), CHAT_PUSH_QUEUE ({prefix}-push),
CHAT_SNS_APNS_APP_ARN and CHAT_SNS_FCM_APP_ARN (unset: created on the embedded SNS),
CHAT_VAPID_PRIVATE_KEY (generated when unset), CHAT_PUSH_ALLOW_LOCAL_HTTP (1), LOG_LEVEL (INFO),
CHAT_LAMBDA_PACKAGE (unset: the source tree's handlers; a folder: the unpacked deployment
package's, see ``make run-package``), CHAT_LAMBDA_WORKERS (two per core: the most worker processes
per function), CHAT_FANOUT_CONCURRENCY (8 here: posts at once per invocation),
CHAT_PROCESSES (unset: each function's invocations run in worker processes, see
chatlocal.functions.workers; 1: on threads in this one process; CHAT_FAULTS injects in either),
CHAT_CONNECTION_CONCURRENCY (2: frames of one connection invoked at once), CHAT_AUTH (dev, the default:
dev tokens; cognito: a user pool in the embedded moto, see chatlocal.cognito).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from chatlocal.cognito import auth_mode
from chatlocal.config import StartupError, env_flag, env_int, env_seconds
from chatlocal.datadir import data_directory
from chatlocal.functions.workers import SINGLE_PROCESS_VARIABLE, WorkerSettings, lambda_workers
from chatlocal.push.providers import VapidKeys

USAGE = "usage: python -m chatlocal [--allow-remote-dev]   (settings: see docs/local-stack.md)"


@dataclass(frozen=True)
class Options:
    """Every setting, checked: ``from_env`` raises StartupError naming a bad variable."""

    host: str
    port: int
    secret: str  # "" until resolved: the environment's, else the data folder's, else a new one
    idle_timeout: float
    lambda_concurrency: int
    data_dir: Path | None  # None: keep nothing (CHAT_EPHEMERAL=1)
    save_interval: float
    vapid: VapidKeys
    workers: WorkerSettings | None  # None: the handlers run on threads in this process
    one_process: bool  # CHAT_PROCESSES=1: the embedded moto and the handlers in this process too
    allow_remote_dev: bool = False
    connection_concurrency: int = 4
    auth: str = "dev"  # CHAT_AUTH: "dev" or "cognito"

    @classmethod
    def from_env(cls, env: MutableMapping[str, str], argv: Sequence[str] = ()) -> Options:
        return cls(
            host=(env.get("HOST") or "").strip() or "127.0.0.1",
            port=env_int(env, "PORT", 8000, 0, 65535),
            secret=env.get("CHAT_JWT_SECRET") or "",
            idle_timeout=env_seconds(env, "CHAT_IDLE_TIMEOUT_SECONDS", 600),
            lambda_concurrency=env_int(env, "CHAT_LAMBDA_CONCURRENCY", 64, 1),
            data_dir=data_directory(env),
            save_interval=env_seconds(env, "CHAT_SAVE_INTERVAL_SECONDS", 30),
            vapid=VapidKeys.from_env(env),
            workers=lambda_workers(env),
            one_process=(env.get(SINGLE_PROCESS_VARIABLE) or "").strip() == "1",
            allow_remote_dev=_allow_remote_dev(env, argv),
            connection_concurrency=env_int(env, "CHAT_CONNECTION_CONCURRENCY", 2, 1, 64),
            auth=auth_mode(env),
        )


def _allow_remote_dev(env: Mapping[str, str], argv: Sequence[str]) -> bool:
    unknown = [arg for arg in argv if arg != "--allow-remote-dev"]
    if unknown:
        raise StartupError(f"unknown argument {unknown[0]!r}; {USAGE}")
    return "--allow-remote-dev" in argv or env_flag(env, "CHAT_ALLOW_REMOTE_DEV")
