"""The register history check of the fault tests (``history.py``) finds what it is meant to find: each
rule rejects a history that breaks it, and a linearizable history passes."""

from __future__ import annotations

from .history import Read, RegisterHistory


def _history() -> RegisterHistory:
    # 2 and 4 acknowledged; 6 was sent at 2.2 and never acknowledged (it may have committed or not);
    # 8 was sent at 3.0.
    history = RegisterHistory(attempted={0: float("-inf"), 2: 0.9, 4: 1.9, 6: 2.2, 8: 3.0})
    history.acked = [(1.0, 2), (2.0, 4)]
    return history


def test_a_linearizable_history_passes():
    history = _history()
    history.reads = [Read(0.5, 0.6, 0, "a", own=False), Read(1.5, 1.6, 2, "b", own=False),
                     Read(2.05, 2.1, 4, "c", own=True), Read(2.5, 2.6, 6, "a", own=False),
                     # overlapping reads may see the write in flight in either order
                     Read(2.7, 3.2, 8, "b", own=False), Read(2.8, 3.3, 6, "c", own=False)]
    assert history.violations() == []


def test_a_value_no_one_wrote_is_found():
    history = _history()
    history.reads = [Read(2.5, 2.6, 5, "b", own=False)]
    assert history.violations() == ["b read 5, which no one wrote"]


def test_a_read_older_than_the_last_acknowledged_update_is_found_on_any_member():
    history = _history()
    history.reads = [Read(2.5, 2.6, 2, "b", own=False)]
    assert history.violations() == ["b read 2 after 4 was acknowledged"]


def test_a_value_whose_write_began_after_the_read_ended_is_found():
    history = _history()
    history.reads = [Read(2.5, 2.6, 8, "a", own=False)]
    assert history.violations() == ["a read 8 before its write began"]


def test_a_read_going_back_after_another_ended_is_found():
    history = _history()
    # 6 was never acknowledged, so reading 4 after it is no older than the last acknowledged update; but a
    # read of 6 had ended before the read of 4 began.
    history.reads = [Read(2.3, 2.4, 6, "a", own=False), Read(2.5, 2.6, 4, "b", own=False)]
    assert history.violations() == ["b read 4 after a had read 6"]
