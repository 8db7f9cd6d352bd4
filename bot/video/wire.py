"""The video API's answers, shared by every model it serves: a submit's receipt and a
prediction's status (pydantic, read leniently: unknown fields are ignored)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Documented values of `status`; others are read as "still processing".
PredictionStatus = Literal["processing", "completed", "failed"]


class _ApiModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class SubmitResponse(_ApiModel):
    """What the API answers to a submit: the prediction id and its estimate and price."""

    id: str = Field(min_length=1)
    status: str = "processing"  # only the id matters: with it, the job exists and is charged
    status_url: str | None = Field(None, alias="statusUrl")
    estimated_time: str | None = Field(None, alias="estimatedTime")
    cost_cents: int = Field(0, alias="costCents", ge=0)
    created_at: datetime | None = Field(None, alias="createdAt")

    def estimate_s(self) -> tuple[float, float] | None:
        """Parse `estimatedTime` ("60-120s", "90s") into (low, high) seconds."""
        return parse_estimate(self.estimated_time)


class Prediction(_ApiModel):
    """What `GET /predictions/{id}` answers."""

    id: str
    status: PredictionStatus | str
    outputs: list[str] | None = None
    error: str | None = None
    cost_cents: int | None = Field(None, alias="costCents", ge=0)
    created_at: datetime | None = Field(None, alias="createdAt")
    completed_at: datetime | None = Field(None, alias="completedAt")


_ESTIMATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*s?\s*$")


def parse_estimate(text: str | None) -> tuple[float, float] | None:
    """Parse an estimate such as "60-120s" into (60.0, 120.0); None when absent or unreadable."""
    if not text or not (match := _ESTIMATE.match(text)):
        return None
    low = float(match.group(1))
    high = float(match.group(2) or low)
    return (min(low, high), max(low, high))
