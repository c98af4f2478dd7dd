"""What can go wrong, each with the exit code the command line ends with."""

from __future__ import annotations


class AdminError(Exception):
    exit_code = 1


class Usage(AdminError):
    """A malformed id or option (argparse's own usage errors also end with 2)."""

    exit_code = 2


class NoSuchReport(AdminError):
    exit_code = 3


class Refused(AdminError):
    """The action cannot apply to this report (a direct chat, a system message, a chat gone)."""

    exit_code = 4


class Unreachable(AdminError):
    """DynamoDB (or S3) could not be reached, or the tables are not there."""

    exit_code = 5
