"""The job state machine as a table: its shape, and the state sets derived from it."""

from __future__ import annotations

from bot.jobs.model import (
    CANCELLABLE,
    ENDED_WITHOUT_CLIP,
    IN_FLIGHT,
    TERMINAL,
    TRANSITIONS,
    UNFINISHED,
    JobState,
    sources,
)


def test_every_state_has_a_row() -> None:
    assert set(TRANSITIONS) == set(JobState)


def test_the_ends_are_delivered_failed_and_cancelled() -> None:
    assert {JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED} == TERMINAL
    assert set(JobState) - TERMINAL == UNFINISHED


def test_every_unfinished_state_can_reach_an_end() -> None:
    for start in UNFINISHED:
        seen, frontier = {start}, [start]
        while frontier:
            for nxt in TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert seen & TERMINAL, start


def test_a_job_being_posted_can_no_longer_be_cancelled() -> None:
    assert JobState.DELIVERING not in CANCELLABLE
    assert {JobState.QUEUED, JobState.CLAIMED, JobState.SUBMITTED} <= CANCELLABLE
    assert sources(JobState.CANCELLED) == CANCELLABLE


def test_only_a_job_being_posted_may_be_delivered() -> None:
    assert sources(JobState.DELIVERED) == {JobState.DELIVERING}


def test_a_submit_leaves_only_from_a_claim_and_returns_only_to_it() -> None:
    assert sources(JobState.SUBMITTING) == {JobState.CLAIMED}
    assert sources(JobState.SUBMITTED) == {JobState.SUBMITTING}
    assert JobState.CLAIMED in TRANSITIONS[JobState.SUBMITTING]  # a refused attempt
    assert JobState.QUEUED not in TRANSITIONS[JobState.SUBMITTING]  # never requeued mid-submit


def test_in_flight_jobs_are_unfinished_and_hold_their_slot_until_the_clip_is_made() -> None:
    assert IN_FLIGHT <= UNFINISHED
    assert JobState.COMPLETED not in IN_FLIGHT
    assert JobState.QUEUED not in IN_FLIGHT


def test_a_job_ended_without_a_clip_failed_or_was_cancelled() -> None:
    assert {JobState.FAILED, JobState.CANCELLED} == ENDED_WITHOUT_CLIP
