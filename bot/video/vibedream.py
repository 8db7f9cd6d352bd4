"""Async client for the VibeDream video API: one way in for every model it serves."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import aiohttp
from pydantic import BaseModel, SecretStr, ValidationError

from bot.errors import (
    ApiAuthError,
    ApiProtocolError,
    ApiRejectedError,
    ApiUnavailableError,
    ModelUnavailableError,
    SubmitOutcomeUnknownError,
)
from bot.settings import Settings
from bot.video.wire import Prediction, SubmitResponse

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
Sleep = Callable[[float], Awaitable[None]]
Hook = Callable[[], Awaitable[object]]

_RETRY_AFTER_CAP_S = 300.0
_BACKOFF_BASE_S = 1.0


class VibedreamClient:
    """Submits generations and reads predictions; one aiohttp session, typed in and out.

    Every call goes through `_request`, which maps HTTP failures to `ApiError` subclasses and
    retries with bounded backoff honouring `Retry-After`. Status reads retry 429, any 5xx and
    network errors. A submit is only re-sent when the previous attempt certainly was not
    processed: the connection was refused, or the API answered 429, or 503 with `Retry-After`.
    Any other 5xx, or a request that went out with no answer, raises
    `SubmitOutcomeUnknownError` instead, since the prediction may exist and be charged.
    """

    @classmethod
    def from_settings(
        cls, session: aiohttp.ClientSession, settings: Settings, sleep: Sleep = asyncio.sleep
    ) -> VibedreamClient:
        """The client the settings describe."""
        return cls(
            session,
            base_url=settings.vibedream_api_url,
            api_key=settings.vibedream_api_key,
            timeout_s=settings.api_timeout_s,
            max_retries=settings.api_max_retries,
            backoff_max_s=settings.api_backoff_max_s,
            sleep=sleep,
        )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: SecretStr,
        timeout_s: float = 30.0,
        max_retries: int = 5,
        backoff_max_s: float = 30.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_retries = max_retries
        self._backoff_max_s = backoff_max_s
        self._sleep = sleep

    async def submit(
        self,
        model_id: str,
        body: dict[str, object],
        *,
        on_send: Hook | None = None,
        on_refused: Hook | None = None,
    ) -> SubmitResponse:
        """Start a generation of model `model_id` from its request `body` (see
        `VideoModel.request_body`); returns the prediction id, estimate and cost.

        `on_send` runs before each attempt goes on the wire and `on_refused` after an attempt
        the API certainly did not process, so the caller can record which one is the case.
        Raises ModelUnavailableError when the API says it no longer serves the model.
        """
        try:
            answer = await self._request(
                "POST",
                f"/models/{model_id}/generate",
                json_body=body,
                idempotent=False,
                on_send=on_send,
                on_refused=on_refused,
            )
        except ApiRejectedError as exc:
            if names_model_gone(exc.status, exc.message):
                raise ModelUnavailableError(model_id, exc.status, exc.message) from exc
            raise
        try:
            return _parse(SubmitResponse, answer)
        except ApiProtocolError:
            # With an id the prediction exists and will be charged: keep it, lose the extras.
            if (prediction_id := _salvage_id(answer)) is None:
                raise
            log.warning("submit answer for %s is malformed beyond its id", prediction_id)
            return SubmitResponse.model_validate({"id": prediction_id})

    async def get_prediction(self, prediction_id: str, *, retries: int | None = None) -> Prediction:
        """Read a prediction's current status, retrying `retries` times (default: the client's)."""
        body = await self._request(
            "GET", f"/predictions/{prediction_id}", idempotent=True, retries=retries
        )
        prediction = _parse(Prediction, body)
        if prediction.status == "completed" and not prediction.outputs:
            raise ApiProtocolError("completed prediction has no outputs")
        return prediction

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: object = None,
        idempotent: bool,
        on_send: Hook | None = None,
        on_refused: Hook | None = None,
        retries: int | None = None,
    ) -> bytes:
        headers = {"Authorization": f"Bearer {self._api_key.get_secret_value()}"}
        url = self._base_url + path
        problem, wait_s = "no attempt made", 0.0
        for attempt in range(1 + (self._max_retries if retries is None else retries)):
            if attempt:
                log.info("retrying %s %s in %.1f s: %s", method, path, wait_s, problem)
                await self._sleep(wait_s)
            if on_send is not None:
                await on_send()
            try:
                async with self._session.request(
                    method, url, json=json_body, headers=headers, timeout=self._timeout
                ) as response:
                    body = await response.read()
                    status, retry_after = response.status, response.headers.get("Retry-After")
            except aiohttp.ClientConnectorError as exc:  # never reached the API
                problem, wait_s = f"cannot connect: {exc.os_error or exc}", self._backoff(attempt)
            except (TimeoutError, aiohttp.ClientError) as exc:
                if not idempotent:
                    raise SubmitOutcomeUnknownError(f"{method} {path}: {exc!r}") from exc
                problem, wait_s = type(exc).__name__, self._backoff(attempt)
            else:
                if 200 <= status < 300:
                    return body
                if status in (401, 403):
                    raise ApiAuthError(
                        f"{method} {path} answered {status}; check VIBEDREAM_API_KEY"
                    )
                if not _retryable(status, idempotent, retry_after):
                    if status >= 500:  # maybe created upstream before the error
                        raise SubmitOutcomeUnknownError(f"{method} {path} answered {status}")
                    raise ApiRejectedError(status, _error_message(body))
                problem, wait_s = f"HTTP {status}", self._wait_s(attempt, retry_after)
            if on_refused is not None:
                await on_refused()
        raise ApiUnavailableError(f"{method} {path} failed after retries: {problem}")

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._backoff_max_s, _BACKOFF_BASE_S * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)

    def _wait_s(self, attempt: int, retry_after: str | None) -> float:
        seconds = parse_retry_after(retry_after)
        return self._backoff(attempt) if seconds is None else min(seconds, _RETRY_AFTER_CAP_S)


#: An error text saying the model itself is gone (what vibedream answers for a retired model is
#: not documented): "model not found", "Unknown model 'x'", "model x is no longer available".
#: Only within one clause, and never about a model's parameters or input: a member's bad
#: request must not take the model away from every server.
_MODEL_GONE = re.compile(
    r"\bmodel\b(?!\s+(?:parameter|input|option|setting))(?:[^.:;,]|\.(?=\S)){0,60}?"
    r"\b(?:not found|unknown|unavailable|not available|no longer|retired|deprecated"
    r"|does not exist|doesn't exist)\b"
    r"|\b(?:unknown|unsupported|retired|deprecated)\s+model\b"
    r"(?!\s+(?:parameter|input|option|setting))",
    re.IGNORECASE,
)


def names_model_gone(status: int, message: str) -> bool:
    """Whether a refused submit means the model is not served: a 404 on its generate route
    (an unknown route), a 410, or an error naming the model as unknown or unavailable."""
    return status in (404, 410) or bool(_MODEL_GONE.search(message))


def _retryable(status: int, idempotent: bool, retry_after: str | None) -> bool:
    """Whether a status may be retried; a submit only when it certainly was not processed.

    429 means exactly that. A 503 means it only with `Retry-After` (the server shedding load);
    a bare 503, like other 5xx, may come from a proxy after the work was done.
    """
    if status == 429 or (status == 503 and retry_after is not None):
        return True
    return idempotent and status >= 500


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Read a `Retry-After` header given in seconds or as an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _parse(model: type[ModelT], body: bytes) -> ModelT:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        problem = f"unexpected {model.__name__} payload: {exc.error_count()} errors"
        raise ApiProtocolError(problem) from exc


def _salvage_id(body: bytes) -> str | None:
    """The `id` of a JSON object whose other fields failed validation, if it has a usable one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    prediction_id = data.get("id") if isinstance(data, dict) else None
    return prediction_id if isinstance(prediction_id, str) and prediction_id else None


def _error_message(body: bytes) -> str:
    """Pull a readable message out of an error body, whatever its shape."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip() or "no details"
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            if isinstance(message := data.get(key), str):
                return message
    return str(data)[:200]
