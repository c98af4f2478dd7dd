"""``chat``, the command line on top of ``ChatClient`` (``python -m chatclient`` too).

    output      what it prints: one flushed line per event, the server's answers as lines
    arguments   each command's arguments and help (argparse that never exits the process)
    commands    what each command does, for the shell and the one-shot subcommands alike
    shell       the interactive shell: stdin lines, pushed events printed as they come
    program     ``main``: options, the one-shot subcommands, connecting, exit codes

Each module imports only those listed above it, plus ``chatclient`` itself (client, errors,
models); nothing of the backend, the emulator or the tests.
"""

from chatclient.cli.program import main

__all__ = ["main"]
