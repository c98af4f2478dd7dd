"""The short chaos run of ``make test``: a fixed seed, a fresh local stack, faults of every kind
at 5%, one SIGSTOP of the stack and cut connections, then the checks of chaos.checks. Messages
are edited, deleted and reacted to all the while (each client views one chat, so some changes
come as live frames, and cuts make others come through chat.changes after a reconnect): at the
end every client's copy of its chats must be what is stored. The 5-minute run is ``make
chaos``; its figures are in docs/reliability.md."""

from __future__ import annotations

from chaos.run import Options, run_chaos, table

SHORT = Options(
    duration=10.0,
    seed=3,
    clients=4,
    chats=2,
    rate=0.05,
    interval=0.5,
    churn=2.0,
    pause_every=4.0,
    pause_seconds=(1.0, 2.5),
    cut_every=3.0,
    converge_timeout=30.0,
    send_timeout=30.0,
    change_interval=0.5,
)


def test_nothing_acknowledged_is_lost_or_duplicated_and_nothing_leaks_under_faults():
    result = run_chaos(SHORT)
    print()
    print(table(result))
    assert result.findings.violations == []
    assert result.converge_seconds is not None
    assert result.acks > 0 and sum(result.fired.values()) > 0 and result.tally.paused >= 1
    changes = result.changes
    assert changes.edits + changes.deletes + changes.reactions > 0 and changes.views > 0, changes.summary()
    assert result.findings.diverged == []  # in the violations too: said here for the reader
    # The handlers run in worker processes (the default stack): every kind but disconnect_lost
    # fires there, in the workers' own injectors (the stack's process only loses $disconnects).
    assert set(result.fired) - {"disconnect_lost"}
