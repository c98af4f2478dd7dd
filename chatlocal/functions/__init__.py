"""Stands in for Lambda, running the functions ``chalice deploy`` creates: the three WebSocket
routes (keyed ``$connect``, ``$default``, ``$disconnect``) and each ``@app.on_sqs_message``
handler (keyed by its name, ``fanout``), one event per invocation, with Lambda's context, and
errors reported to the caller as Lambda reports them.

- ``lambdas``: ``Lambdas``, each handler resolved in the app module and invoked on a thread pool
  in the stack's process (``CHAT_PROCESSES=1``).
- ``workers``: ``Workers``, the same interface with each function in worker processes of its own
  (the default: the source tree; ``CHAT_LAMBDA_PACKAGE``: the unpacked deployment package).
- ``runtime_worker``: one worker, an isolated interpreter (``python -I -S -u``, launched by its
  path) that loads one handler from the code folder and runs its invocations one at a time.

``CHAT_FAULTS`` injects faults in both modes: on threads, into the stack's process; in workers,
into each worker (``chatlocal.aws.faults`` is every worker's setup), where a ``crash`` ends the
worker as Lambda ends a killed environment.

How faithful: in workers, module state is per worker, a new worker is a cold start, an import the
code folder cannot satisfy stops the stack with Lambda's init error, and a timed-out invocation
kills its worker, as Lambda ends the environment. Differs: at most ``CHAT_LAMBDA_WORKERS``
workers per function (Lambda scales to the account's concurrency), no memory limit; on threads,
all functions share one process's module state and there is no cold start.

May import: ``chatlocal.config`` and ``chatlocal.aws`` (fault injection). ``runtime_worker``
imports the standard library only: it runs where nothing else is on ``sys.path``.
"""
