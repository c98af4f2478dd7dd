"""bench.load's comparison of the stack's modes (the figures themselves are printed, not tested)."""

from __future__ import annotations

from bench.load import JOURNAL_OFF, JOURNAL_ON, MODES, SHAPES, Row, compare, journal_cost


def test_the_comparison_puts_each_size_side_by_side_with_the_ratio():
    results = {
        "one process": [
            Row("50 connections", 8.0, 400.0, 1300.0, True),
            Row("500 connections", 1.2, 600.0, 2000.0, True),
        ],
        "processes": [Row("50 connections", 20.0, 1000.0, 200.0, True)],
    }
    lines = compare(results).strip().splitlines()
    assert lines[0] == (
        "| chat size | one process deliv/s | processes deliv/s | x | one process p99 ms | processes p99 ms |"
    )
    assert lines[2] == "| 50 connections | 400.0 | 1000.0 | 2.50 | 1300 | 200 |"
    assert lines[3] == "| 500 connections | 600.0 | - | - | 2000 | - |"


def test_the_one_process_mode_is_the_flag_and_the_latency_case_is_rated():
    assert MODES["one process"] == {"CHAT_PROCESSES": "1"}
    assert MODES[JOURNAL_OFF] == {"CHAT_EPHEMERAL": "", "CHAT_JOURNAL": "0"}  # keeps data, no journal
    assert MODES[JOURNAL_ON] == {"CHAT_EPHEMERAL": "", "CHAT_JOURNAL": "1"}  # as `make run`
    rated = SHAPES["200 conns 20/s"]
    assert (rated.connections, rated.chats, rated.rate) == (200, 20, 20)


def test_the_journal_cost_sets_each_size_without_and_with_it():
    off = [Row("50 connections", 20.0, 1000.0, 200.0, True), Row("2 connections", 60.0, 60.0, 900.0, True)]
    on = [Row("50 connections", 19.0, 950.0, 210.0, True)]
    lines = journal_cost(off, on).strip().splitlines()
    assert lines[0] == "The journal's cost (CHAT_JOURNAL=0 against the default):"
    assert lines[-1] == "| 50 connections | 20.0 | 19.0 | 1000.0 | 950.0 | +5.0% | 200 | 210 |"
    assert len(lines) == 5  # a size measured in one mode only is left out


def test_the_journal_modes_run_side_by_side_taking_turns(monkeypatch):
    """Both stacks up at once; each size on one then the other, who goes first alternating."""
    from bench import load

    class FakeStack:
        def __init__(self, mode: str) -> None:
            self.url, self.text = f"http://{mode}", ""

        def __enter__(self) -> FakeStack:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    ran: list[tuple[str, str]] = []

    def run_size(base: str, name: str, shape: object, label: str = "") -> Row:
        ran.append((name, base.removeprefix("http://")))
        return Row(name, 1.0, 1.0, 1.0, True)

    monkeypatch.setattr(load, "_stack", lambda mode, data_dir: FakeStack(mode))
    monkeypatch.setattr(load, "warm_up", lambda base: None)
    monkeypatch.setattr(load, "run_size", run_size)
    results = load.run_paired([JOURNAL_OFF, JOURNAL_ON], 1.0, ["2 conn", "50 conn", "500 conn"], None)
    assert ran == [
        ("2 connections", JOURNAL_OFF),
        ("2 connections", JOURNAL_ON),
        ("50 connections", JOURNAL_ON),
        ("50 connections", JOURNAL_OFF),
        ("500 connections", JOURNAL_OFF),
        ("500 connections", JOURNAL_ON),
    ]
    assert [r.size for r in results[JOURNAL_ON]] == ["2 connections", "50 connections", "500 connections"]
