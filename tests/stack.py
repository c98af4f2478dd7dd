"""The local stack as a subprocess for the test tiers (see chatlocal.process).

``ONE_PROCESS``: the settings of the stack's one-process mode (``CHAT_PROCESSES=1``: moto and the
handlers in the stack's own process), which starts, answers and stops sooner than the default
mode (moto in a process of its own, each function in worker processes). Tests of what the stack
serves whatever its mode (the gateway, the dev routes, the Python client, the web page) start
their stacks with it; the integration tier's session stack, the load-style tests and the tests
of starting, stopping and saving keep the default mode, as ``make run`` runs it."""

from chatlocal.functions.workers import SINGLE_PROCESS_VARIABLE
from chatlocal.process import ROOT, LocalStack, clean_env

ONE_PROCESS = {SINGLE_PROCESS_VARIABLE: "1"}

__all__ = ["ONE_PROCESS", "ROOT", "LocalStack", "clean_env"]
