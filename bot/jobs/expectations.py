"""Honest expectations: how long a job should take, learned from this bot's own history.

Pure functions; the store supplies the history (`Store.recent_generation_s`), the progress
reporter shows the result.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

#: How many recent delivered jobs of the same model, resolution and duration the ETA is
#: learned from.
HISTORY_SAMPLE = 50
#: Fewer delivered jobs than this are too few to trust; the API's estimate is used instead.
HISTORY_MIN = 3
#: A job is "running late" only past its ETA by this share of it (see `late_after_s`).
LATE_AFTER = 0.1


class EtaBasis(StrEnum):
    """Where an expected generation time comes from."""

    HISTORY = "history"  # the median of this bot's recent jobs of the same model and settings
    API = "api"  # the API's `estimatedTime` for this job (its high end)
    DOCS = "docs"  # the documented typical time, before any history or estimate


@dataclass(frozen=True, slots=True)
class Eta:
    """An expected generation time in seconds, and what it is based on."""

    seconds: float
    basis: EtaBasis
    samples: int = 0  # with HISTORY: how many jobs the median was taken over


@dataclass(frozen=True, slots=True)
class Forecast:
    """What the progress message promises: the cost, and when the clip should be ready."""

    #: Before the submit what was reserved, after it what the API charges; None before the
    #: submit when no earlier job of its model with these settings shows the price (then its
    #: listed price is shown, `VideoModel.listed_price_cents`).
    cost_cents: int | None
    eta: Eta
    ready_at: datetime
    late_at: datetime  # from then on the job is running late (see `late_after_s`)

    def is_late(self, now: datetime) -> bool:
        """True once the clip is clearly overdue."""
        return now > self.late_at


def learned_eta(history: Sequence[float]) -> Eta | None:
    """The median of recent generation times, or None while there are too few to trust."""
    if len(history) < HISTORY_MIN:
        return None
    return Eta(float(statistics.median(history)), EtaBasis.HISTORY, len(history))


def expected_generation(
    learned: Eta | None,
    estimate_s: tuple[float, float] | None,
    documented_s: tuple[float, float],
) -> Eta:
    """The generation time to expect: learned (from jobs of the same model and settings), else
    the API's estimate, else the model's documented one (`documented_s`).

    Once the API has estimated this job, a learned median outside its range is clearly at odds
    with what the API knows about its current load, so it is moved to the nearer end of the
    range; inside the range the median stands. Without a median the high end is used, so the
    promise errs on the late side.
    """
    if learned is not None:
        if estimate_s is None:
            return learned
        low, high = estimate_s
        if low <= learned.seconds <= high:
            return learned
        return Eta(min(max(learned.seconds, low), high), EtaBasis.API)
    if estimate_s is not None:
        return Eta(estimate_s[1], EtaBasis.API)
    return Eta(documented_s[1], EtaBasis.DOCS)


def late_after_s(eta: Eta, estimate_s: tuple[float, float] | None) -> float:
    """Seconds after its start at which a job is running late: past its ETA by a tenth, and
    past the high end of the API's estimate for it too (an ETA is a typical time, so a job a
    little over it, still inside what the API said, is not late)."""
    return max(eta.seconds * (1 + LATE_AFTER), estimate_s[1] if estimate_s else 0.0)


def bar_fraction(elapsed_s: float, eta: Eta) -> float:
    """How far along the bar is: elapsed over expected (the bar itself stops short of full)."""
    return elapsed_s / eta.seconds if eta.seconds > 0 else 0.0


def settle_shown(shown_at: float | None, candidate_at: float, eta: Eta) -> float:
    """The expected-ready moment (epoch seconds) to show while a job waits to be sent.

    "Ready at now + ETA" moves with the clock; showing it as is would edit the message at every
    refresh. The shown moment stays until the candidate drifts more than a quarter of the ETA
    (at least 30 s) from it.
    """
    tolerance = max(30.0, eta.seconds / 4)
    if shown_at is None or abs(candidate_at - shown_at) > tolerance:
        return candidate_at
    return shown_at
