"""The local stack's settings from the environment, checked before anything starts: a bad value
stops ``make run`` with one line that names the variable, what it holds and what it takes."""

from __future__ import annotations

import errno
import ipaddress
import logging
from collections.abc import Mapping


class StartupError(Exception):
    """The stack cannot start; the message is the one line shown to the user (exit status 2)."""


def env_int(env: Mapping[str, str], name: str, default: int, low: int, high: int | None = None) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise StartupError(f"{name}={raw!r} is not a whole number ({_range(low, high)})") from None
    if value < low or (high is not None and value > high):
        raise StartupError(f"{name}={raw} is out of range ({_range(low, high)})")
    return value


def env_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive, finite number of seconds."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise StartupError(f"{name}={raw!r} is not a number of seconds (for example 30 or 1.5)") from None
    if not 0 < value < float("inf"):
        raise StartupError(f"{name}={raw} must be a number of seconds above 0")
    return value


def env_flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise StartupError(f"{name}={raw!r} is not a flag (use 1 to turn it on, 0 or unset for off)")


def log_level(env: Mapping[str, str]) -> str:
    level = (env.get("LOG_LEVEL") or "INFO").strip().upper()
    if not isinstance(logging.getLevelName(level), int):
        raise StartupError(f"LOG_LEVEL={level!r} is not a level (DEBUG, INFO, WARNING, ERROR)")
    return level


def _range(low: int, high: int | None) -> str:
    return f"{low} to {high}" if high is not None else f"at least {low}"


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (a name other than localhost counts as not)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposed_warning(host: str, port: int, allow_remote_dev: bool = False) -> str:
    """The warning shown when HOST lets other machines in."""
    bar = "!" * 78
    if allow_remote_dev:
        dev = [
            "  --allow-remote-dev is on: /dev/token hands a valid token for ANY user id to anyone",
            "  who can reach it, and the /dev/* routes show and change connections and push",
            "  subscriptions. This stack is for development: trust every machine on the network.",
        ]
    else:
        dev = [
            "  The /dev/* routes (dev tokens, connection listing, push emulation) are off: they",
            "  answer 404. --allow-remote-dev (or CHAT_ALLOW_REMOTE_DEV=1) turns them on, for",
            "  anyone who can reach the port; unset HOST (127.0.0.1) to keep them to this machine.",
        ]
    return "\n".join(
        [
            bar,
            f"WARNING: HOST={host} is not a loopback address: other machines can reach port {port}.",
            *dev,
            bar,
        ]
    )


def bind_error(host: str, port: int, exc: OSError) -> StartupError:
    """What failing to listen on ``host:port`` means, and what to do about it."""
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return StartupError(
            f"{where} is already in use (another `make run`?): stop it, or set PORT=0 to pick a"
            " free port (or PORT=<another port>)"
        )
    if exc.errno == errno.EACCES:
        return StartupError(f"no permission to listen on {where}: use a port above 1023, or PORT=0")
    if exc.errno == errno.EADDRNOTAVAIL:
        return StartupError(f"HOST={host} is not an address of this machine (try 127.0.0.1)")
    return StartupError(f"cannot listen on {where}: {exc.strerror or exc}")
