"""The register history check of the fault tests (``history.py``) finds what it is meant to find."""

from __future__ import annotations

from .history import Read, RegisterHistory


def _history() -> RegisterHistory:
    history = RegisterHistory(attempted={0, 2, 4, 6})
    history.acked = [(1.0, 2), (2.0, 4)]  # 6 was sent, never acknowledged: it may have committed or not
    return history


def test_reads_of_written_values_no_older_than_the_last_acknowledged_update_pass():
    history = _history()
    history.reads = [Read(0.5, 0.6, 0, "a", own=True), Read(1.5, 1.6, 2, "a", own=True),
                     Read(2.5, 2.6, 6, "a", own=True), Read(2.5, 2.6, 2, "b", own=False)]
    assert history.violations() == []


def test_a_stale_read_on_the_members_written_through_is_found():
    history = _history()
    history.reads = [Read(2.5, 2.6, 2, "a", own=True)]
    assert history.violations() == ["a read 2 after 4 was acknowledged"]


def test_a_value_no_one_wrote_is_found_on_any_member():
    history = _history()
    history.reads = [Read(2.5, 2.6, 5, "b", own=False)]
    assert history.violations() == ["b read 5, which no one wrote"]
