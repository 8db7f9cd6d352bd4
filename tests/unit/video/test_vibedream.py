"""VibedreamClient over real HTTP: the fake video API, or a tiny server for odd answers."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.errors import (
    ApiAuthError,
    ApiProtocolError,
    ApiRejectedError,
    ApiUnavailableError,
    ModelUnavailableError,
    SubmitOutcomeUnknownError,
)
from bot.jobs.model import GenerationSettings
from bot.video.seedance import SEEDANCE_1_5_PRO
from bot.video.vibedream import VibedreamClient, names_model_gone, parse_retry_after
from tests.fakes.fake_vibedream import MODERATION_ERROR, FakeVibedream
from tests.fakes.tiny_http import TinyServer

MODEL_ID = SEEDANCE_1_5_PRO.id
PROMPT = "The cat turns its head and blinks"
IMAGE_URL = "https://cdn.example.com/cat.png?ex=65a1b2c3&is=65a06143&hm=ab12&"
LAST_IMAGE_URL = "https://cdn.example.com/cat-end.png"
SETTINGS = GenerationSettings(
    duration_s=6,
    resolution="720p",
    aspect_ratio="16:9",
    camera_fixed=True,
    seed=42,
    generate_audio=False,
)
#: A submit body built through the model seam, as the job service builds it.
REQUEST = SEEDANCE_1_5_PRO.request_body(PROMPT, IMAGE_URL, LAST_IMAGE_URL, SETTINGS)
PREDICTION_ID = "550e8400-e29b-41d4-a716-446655440000"


class RecordingSleep:
    """Stands in for asyncio.sleep: remembers each wait and returns at once.

    With `events`, each wait is also noted there as "sleep <seconds>", in order with whatever
    else the test writes to that list.
    """

    def __init__(self, events: list[str] | None = None) -> None:
        self.waits: list[float] = []
        self._events = events

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self._events is not None:
            self._events.append(f"sleep {seconds:g}")
        await asyncio.sleep(0)


class SubmitHooks:
    """`on_send` and `on_refused` for one submit, noting each call in `events`."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    async def on_send(self) -> None:
        self.events.append("send")

    async def on_refused(self) -> None:
        self.events.append("refused")


def make_client(
    http: aiohttp.ClientSession,
    base_url: str,
    sleep: RecordingSleep,
    *,
    api_key: str = "test-vibedream-key",
    timeout_s: float = 5.0,
    max_retries: int = 3,
    backoff_max_s: float = 30.0,
) -> VibedreamClient:
    return VibedreamClient(
        http,
        base_url=base_url,
        api_key=SecretStr(api_key),
        timeout_s=timeout_s,
        max_retries=max_retries,
        backoff_max_s=backoff_max_s,
        sleep=sleep,
    )


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def client(
    http: aiohttp.ClientSession, fake_api: FakeVibedream, sleep: RecordingSleep
) -> VibedreamClient:
    return make_client(http, fake_api.base_url, sleep)


def json_response(payload: object, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(payload), status=status, content_type="application/json")


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Submit ----------------------------------------------------------------------------------------


async def test_submit_sends_exactly_the_documented_fields(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    await client.submit(MODEL_ID, REQUEST)

    assert [r.json for r in fake_api.submits] == [
        {
            "prompt": "The cat turns its head and blinks",
            "image": "https://cdn.example.com/cat.png?ex=65a1b2c3&is=65a06143&hm=ab12&",
            "last_image": "https://cdn.example.com/cat-end.png",
            "duration": 6,
            "resolution": "720p",
            "aspect_ratio": "16:9",
            "camera_fixed": True,
            "seed": 42,
            "generate_audio": False,
        }
    ]


async def test_submit_omits_last_image_when_there_is_none(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    await client.submit(MODEL_ID, SEEDANCE_1_5_PRO.request_body(PROMPT, IMAGE_URL, None, SETTINGS))

    assert "last_image" not in fake_api.submits[0].json


async def test_submit_sends_the_key_as_a_bearer_token_with_a_json_body(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    await client.submit(MODEL_ID, REQUEST)

    headers = fake_api.submits[0].headers
    assert headers["Authorization"] == "Bearer test-vibedream-key"
    assert headers["Content-Type"].startswith("application/json")


async def test_submit_parses_the_id_estimate_and_cost(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    fake_api.estimated_time = "60-120s"
    fake_api.cost_cents = 58

    response = await client.submit(MODEL_ID, REQUEST)

    assert response.id in fake_api.predictions
    assert response.status == "processing"
    assert response.estimate_s() == (60.0, 120.0)
    assert response.cost_cents == 58


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ({"id": PREDICTION_ID, "status": "queued", "costCents": 29}, "queued"),
        ({"id": PREDICTION_ID, "costCents": 29}, "processing"),
    ],
    ids=["undocumented-status", "no-status"],
)
async def test_submit_answer_with_an_id_is_accepted_whatever_its_status(
    http: aiohttp.ClientSession, sleep: RecordingSleep, answer: dict[str, object], status: str
) -> None:
    # With an id the prediction exists and is charged: refusing the answer would lose it.
    async def handler(request: web.Request) -> web.Response:
        return json_response(answer)

    async with TinyServer(handler) as server:
        client = make_client(http, server.url("/api/v1"), sleep)
        response = await client.submit(MODEL_ID, REQUEST)

    assert (response.id, response.status, response.cost_cents) == (PREDICTION_ID, status, 29)


# Status ----------------------------------------------------------------------------------------


async def test_get_prediction_reads_a_processing_prediction(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    fake_api.hold()
    submitted = await client.submit(MODEL_ID, REQUEST)

    prediction = await client.get_prediction(submitted.id)

    assert (prediction.id, prediction.status, prediction.outputs) == (
        submitted.id,
        "processing",
        None,
    )
    assert fake_api.status_polls(submitted.id) == 1


async def test_get_prediction_reads_the_output_urls_of_a_completed_prediction(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    fake_api.hold()
    submitted = await client.submit(MODEL_ID, REQUEST)
    done = fake_api.complete_now(submitted.id)

    prediction = await client.get_prediction(submitted.id)

    assert prediction.status == "completed"
    assert prediction.outputs == done.outputs
    assert prediction.completed_at is not None


async def test_get_prediction_reads_the_error_of_a_failed_prediction(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    fake_api.hold()
    submitted = await client.submit(MODEL_ID, REQUEST)
    fake_api.complete_now(submitted.id, error=MODERATION_ERROR)

    prediction = await client.get_prediction(submitted.id)

    assert (prediction.status, prediction.error, prediction.outputs) == (
        "failed",
        MODERATION_ERROR,
        None,
    )


async def test_prediction_with_an_undocumented_status_is_read_as_is(
    http: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return json_response({"id": PREDICTION_ID, "status": "starting"})

    async with TinyServer(handler) as server:
        client = make_client(http, server.url("/api/v1"), sleep)
        prediction = await client.get_prediction(PREDICTION_ID)

    assert (prediction.id, prediction.status, prediction.outputs) == (
        PREDICTION_ID,
        "starting",
        None,
    )


async def test_completed_prediction_without_outputs_is_a_protocol_error(
    http: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return json_response({"id": PREDICTION_ID, "status": "completed", "outputs": []})

    async with TinyServer(handler) as server:
        client = make_client(http, server.url("/api/v1"), sleep)
        with pytest.raises(ApiProtocolError, match="no outputs"):
            await client.get_prediction(PREDICTION_ID)

    assert len(server.requests) == 1


# Retries on 429 and 5xx ------------------------------------------------------------------------


async def test_rate_limited_submit_is_retried_after_the_retry_after_wait(
    client: VibedreamClient, fake_api: FakeVibedream, sleep: RecordingSleep
) -> None:
    fake_api.fail_next("submit", 429, retry_after=7)

    response = await client.submit(MODEL_ID, REQUEST)

    assert [r.status for r in fake_api.submits] == [429, 200]
    assert sleep.waits == [7.0]
    assert list(fake_api.predictions) == [response.id]


async def test_retry_after_on_a_5xx_is_honoured_too(
    client: VibedreamClient, fake_api: FakeVibedream, sleep: RecordingSleep
) -> None:
    fake_api.fail_next("status", 503, retry_after=2.5)
    submitted = await client.submit(MODEL_ID, REQUEST)

    await client.get_prediction(submitted.id)

    assert sleep.waits == [2.5]


async def test_a_huge_retry_after_is_capped_at_five_minutes(
    client: VibedreamClient, fake_api: FakeVibedream, sleep: RecordingSleep
) -> None:
    fake_api.fail_next("submit", 429, retry_after=86400)

    await client.submit(MODEL_ID, REQUEST)

    assert sleep.waits == [300.0]


async def test_submit_answered_503_with_retry_after_is_retried_and_creates_one_prediction(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    fake_api.fail_next("submit", 503, times=2, retry_after=0)

    response = await client.submit(MODEL_ID, REQUEST)

    assert [r.status for r in fake_api.submits] == [503, 503, 200]
    assert list(fake_api.predictions) == [response.id]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_submit_answered_another_5xx_is_an_unknown_outcome_and_not_resent(
    client: VibedreamClient, fake_api: FakeVibedream, sleep: RecordingSleep, status: int
) -> None:
    # The API may have created (and charged) the prediction before failing to answer; a 503
    # says otherwise only when it carries Retry-After.
    fake_api.fail_next("submit", status, times=100)

    with pytest.raises(SubmitOutcomeUnknownError, match=str(status)) as caught:
        await client.submit(MODEL_ID, REQUEST)

    assert [r.status for r in fake_api.submits] == [status]
    assert sleep.waits == []
    assert not caught.value.certainly_not_processed


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_status_check_answered_any_5xx_is_retried(
    client: VibedreamClient, fake_api: FakeVibedream, sleep: RecordingSleep, status: int
) -> None:
    submitted = await client.submit(MODEL_ID, REQUEST)
    fake_api.fail_next("status", status, times=2)

    prediction = await client.get_prediction(submitted.id)

    assert prediction.id == submitted.id
    assert fake_api.status_polls(submitted.id) == 3
    assert len(sleep.waits) == 2


async def test_status_check_hit_by_a_flaky_5xx_is_retried(
    client: VibedreamClient, fake_api: FakeVibedream, sleep: RecordingSleep
) -> None:
    submitted = await client.submit(MODEL_ID, REQUEST)
    fake_api.flaky_5xx_every = 2  # counted from here: the 2nd, 4th, ... requests get a 503
    await client.get_prediction(submitted.id)

    prediction = await client.get_prediction(submitted.id)

    assert prediction.id == submitted.id
    assert fake_api.status_polls(submitted.id) == 3
    assert len(sleep.waits) == 1


async def test_backoff_without_retry_after_grows_and_stays_under_the_cap(
    http: aiohttp.ClientSession, fake_api: FakeVibedream, sleep: RecordingSleep
) -> None:
    client = make_client(http, fake_api.base_url, sleep, max_retries=6, backoff_max_s=4.0)
    fake_api.fail_next("status", 503, times=6)
    submitted = await client.submit(MODEL_ID, REQUEST)

    await client.get_prediction(submitted.id)

    ceilings = [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert len(sleep.waits) == len(ceilings)
    for wait, ceiling in zip(sleep.waits, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling


async def test_persistent_5xx_gives_up_after_max_retries_plus_one_attempts(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    fake_api.fail_next("submit", 503, times=100, retry_after=0)

    with pytest.raises(ApiUnavailableError, match="HTTP 503") as caught:
        await client.submit(MODEL_ID, REQUEST)

    assert len(fake_api.submits) == 3 + 1
    assert caught.value.certainly_not_processed


async def test_gives_up_without_waiting_after_the_last_attempt(
    client: VibedreamClient, fake_api: FakeVibedream, sleep: RecordingSleep
) -> None:
    fake_api.fail_next("submit", 429, times=100, retry_after=60)

    with pytest.raises(ApiUnavailableError):
        await client.submit(MODEL_ID, REQUEST)

    assert sleep.waits == [60.0] * 3  # between the 4 attempts, not after the last one


# Submit hooks: on_send before each attempt, on_refused after each one certainly not processed -


async def test_hooks_mark_each_attempt_of_a_submit_that_is_rate_limited_once(
    http: aiohttp.ClientSession, fake_api: FakeVibedream
) -> None:
    events: list[str] = []
    hooks = SubmitHooks(events)
    client = make_client(http, fake_api.base_url, RecordingSleep(events))
    fake_api.fail_next("submit", 429, retry_after=7)

    response = await client.submit(
        MODEL_ID, REQUEST, on_send=hooks.on_send, on_refused=hooks.on_refused
    )

    # Refused is recorded before the wait, so nothing counts as on the wire while waiting.
    assert events == ["send", "refused", "sleep 7", "send"]
    assert list(fake_api.predictions) == [response.id]


async def test_each_attempt_is_marked_sent_before_it_reaches_the_api(
    http: aiohttp.ClientSession, fake_api: FakeVibedream
) -> None:
    received_before_send: list[int] = []

    async def on_send() -> None:
        received_before_send.append(len(fake_api.submits))

    client = make_client(http, fake_api.base_url, RecordingSleep())
    fake_api.fail_next("submit", 503, times=2, retry_after=0)

    await client.submit(MODEL_ID, REQUEST, on_send=on_send)

    assert received_before_send == [0, 1, 2]


async def test_refused_is_reported_after_the_last_attempt_too(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    events: list[str] = []
    hooks = SubmitHooks(events)
    fake_api.fail_next("submit", 503, times=100, retry_after=0)

    with pytest.raises(ApiUnavailableError):
        await client.submit(MODEL_ID, REQUEST, on_send=hooks.on_send, on_refused=hooks.on_refused)

    assert events == ["send", "refused"] * (3 + 1)


async def test_refused_connection_calls_both_hooks_for_every_attempt(
    http: aiohttp.ClientSession,
) -> None:
    events: list[str] = []
    hooks = SubmitHooks(events)
    client = make_client(http, f"http://127.0.0.1:{closed_port()}/api/v1", RecordingSleep())

    with pytest.raises(ApiUnavailableError, match="cannot connect"):
        await client.submit(MODEL_ID, REQUEST, on_send=hooks.on_send, on_refused=hooks.on_refused)

    assert events == ["send", "refused"] * (3 + 1)


@pytest.mark.parametrize("status", [400, 401, 422, 500, 502])
async def test_an_answer_that_may_have_been_processed_is_never_reported_refused(
    client: VibedreamClient, fake_api: FakeVibedream, status: int
) -> None:
    events: list[str] = []
    hooks = SubmitHooks(events)
    fake_api.fail_next("submit", status)

    with pytest.raises((ApiRejectedError, ApiAuthError, SubmitOutcomeUnknownError)):
        await client.submit(MODEL_ID, REQUEST, on_send=hooks.on_send, on_refused=hooks.on_refused)

    assert events == ["send"]


async def test_accepted_submit_calls_on_send_once_and_never_on_refused(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    events: list[str] = []
    hooks = SubmitHooks(events)

    await client.submit(MODEL_ID, REQUEST, on_send=hooks.on_send, on_refused=hooks.on_refused)

    assert events == ["send"]


async def test_submit_whose_answer_never_comes_is_not_reported_refused(
    http: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    events: list[str] = []
    hooks = SubmitHooks(events)

    async def handler(request: web.Request) -> web.Response:
        await server.hang()
        return web.Response(status=503)

    async with TinyServer(handler) as server:
        client = make_client(http, server.url("/api/v1"), sleep, timeout_s=0.3)
        with pytest.raises(SubmitOutcomeUnknownError):
            await client.submit(
                MODEL_ID, REQUEST, on_send=hooks.on_send, on_refused=hooks.on_refused
            )

    assert events == ["send"]


# Errors that are not retried -------------------------------------------------------------------


async def test_wrong_key_is_an_auth_error_and_not_retried(
    http: aiohttp.ClientSession, fake_api: FakeVibedream, sleep: RecordingSleep
) -> None:
    client = make_client(http, fake_api.base_url, sleep, api_key="wrong-key")

    with pytest.raises(ApiAuthError):
        await client.submit(MODEL_ID, REQUEST)

    assert [r.status for r in fake_api.submits] == [401]
    assert not fake_api.predictions


async def test_forbidden_status_check_is_an_auth_error_and_not_retried(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    submitted = await client.submit(MODEL_ID, REQUEST)
    fake_api.fail_next("status", 403, times=5)

    with pytest.raises(ApiAuthError):
        await client.get_prediction(submitted.id)

    assert fake_api.status_polls(submitted.id) == 1


async def test_rejected_submit_carries_the_api_message_and_is_not_retried(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    with pytest.raises(ApiRejectedError) as caught:
        await client.submit(MODEL_ID, {**REQUEST, "prompt": "   "})

    assert (caught.value.status, caught.value.message) == (
        400,
        "prompt must be a non-empty string",
    )
    assert len(fake_api.submits) == 1


async def test_unknown_prediction_is_rejected_with_the_api_message(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    with pytest.raises(ApiRejectedError) as caught:
        await client.get_prediction(PREDICTION_ID)

    assert (caught.value.status, caught.value.message) == (404, "Prediction not found")
    assert fake_api.status_polls(PREDICTION_ID) == 1


async def test_rejection_with_a_plain_text_body_keeps_the_text_as_message(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    fake_api.fail_next(
        "submit", 422, body=b"  image could not be fetched \n", content_type="text/plain"
    )

    with pytest.raises(ApiRejectedError) as caught:
        await client.submit(MODEL_ID, REQUEST)

    assert caught.value.message == "image could not be fetched"


async def test_truncated_json_on_submit_is_a_protocol_error_and_not_resent(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    fake_api.malformed_next("submit")

    with pytest.raises(ApiProtocolError):
        await client.submit(MODEL_ID, REQUEST)

    assert len(fake_api.submits) == 1


async def test_html_page_instead_of_a_status_is_a_protocol_error(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    submitted = await client.submit(MODEL_ID, REQUEST)
    fake_api.malformed_next("status", kind="html")

    with pytest.raises(ApiProtocolError):
        await client.get_prediction(submitted.id)

    assert fake_api.status_polls(submitted.id) == 1


async def test_submit_answer_without_an_id_is_a_protocol_error(
    http: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return json_response({"status": "processing", "costCents": 29})

    async with TinyServer(handler) as server:
        client = make_client(http, server.url("/api/v1"), sleep)
        with pytest.raises(ApiProtocolError):
            await client.submit(MODEL_ID, REQUEST)


async def test_submit_answer_with_an_id_but_broken_extras_keeps_the_id(
    http: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return json_response({"id": PREDICTION_ID, "costCents": -5, "createdAt": "yesterday"})

    async with TinyServer(handler) as server:
        client = make_client(http, server.url("/api/v1"), sleep)
        response = await client.submit(MODEL_ID, REQUEST)

    assert (response.id, response.cost_cents, response.estimated_time) == (PREDICTION_ID, 0, None)
    assert len(server.requests) == 1


# Lost answers and unreachable API --------------------------------------------------------------


async def test_submit_is_not_resent_when_the_answer_never_comes(
    http: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    async def handler(request: web.Request) -> web.Response:
        await server.hang()
        return web.Response(status=503)

    async with TinyServer(handler) as server:
        client = make_client(http, server.url("/api/v1"), sleep, timeout_s=0.3)
        with pytest.raises(SubmitOutcomeUnknownError) as caught:
            await client.submit(MODEL_ID, REQUEST)
        received = [r.method for r in server.requests]

    assert received == ["POST"]
    assert not caught.value.certainly_not_processed


async def test_status_check_that_times_out_is_retried(
    http: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    async def handler(request: web.Request) -> web.Response:
        if len(server.requests) <= 2:
            await server.hang()
        return json_response({"id": PREDICTION_ID, "status": "processing"})

    async with TinyServer(handler) as server:
        client = make_client(http, server.url("/api/v1"), sleep, timeout_s=0.3)
        prediction = await client.get_prediction(PREDICTION_ID)

    assert prediction.status == "processing"
    assert [r.path for r in server.requests] == [f"/api/v1/predictions/{PREDICTION_ID}"] * 3


async def test_refused_connection_is_retried_then_reported_unavailable(
    sleep: RecordingSleep,
) -> None:
    attempts: list[str] = []

    async def on_request_start(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: Any
    ) -> None:
        attempts.append(str(params.url))

    tracing = aiohttp.TraceConfig()
    tracing.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[tracing]) as http:
        client = make_client(http, f"http://127.0.0.1:{closed_port()}/api/v1", sleep)
        with pytest.raises(ApiUnavailableError, match="cannot connect") as caught:
            await client.submit(MODEL_ID, REQUEST)

    assert len(attempts) == 3 + 1
    assert caught.value.certainly_not_processed


# Retry-After parsing ---------------------------------------------------------------------------

NOW = datetime(2025, 1, 15, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), ("0", 0.0), ("1.5", 1.5), ("-3", 0.0)],
)
def test_retry_after_in_seconds(header: str, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    assert parse_retry_after("Wed, 15 Jan 2025 12:01:30 GMT", now=NOW) == 90.0


def test_retry_after_as_a_past_http_date_means_no_wait() -> None:
    assert parse_retry_after("Wed, 15 Jan 2025 11:00:00 GMT", now=NOW) == 0.0


@pytest.mark.parametrize("header", [None, "", "soon", "Wed, 99 Foo 2025"])
def test_retry_after_that_is_missing_or_unreadable_is_none(header: str | None) -> None:
    assert parse_retry_after(header, now=NOW) is None


# A model the API no longer serves --------------------------------------------------------------


async def test_a_retired_models_404_is_a_model_unavailable_error_and_not_retried(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    fake_api.retired.add(MODEL_ID)

    with pytest.raises(ModelUnavailableError) as caught:
        await client.submit(MODEL_ID, REQUEST)

    assert (caught.value.model_id, caught.value.status) == (MODEL_ID, 404)
    assert MODEL_ID in caught.value.message
    assert len(fake_api.submits) == 1
    assert fake_api.predictions == {}


@pytest.mark.parametrize(
    "message",
    [
        "Model seedance-1.5-pro-i2v is no longer available",
        "Unknown model: seedance-1.5-pro-i2v",
        "model not found",
        "This model has been retired",
    ],
)
async def test_an_error_naming_the_model_as_gone_is_a_model_unavailable_error(
    client: VibedreamClient, fake_api: FakeVibedream, message: str
) -> None:
    fake_api.fail_next("submit", 400, body=json.dumps({"error": message}).encode())

    with pytest.raises(ModelUnavailableError):
        await client.submit(MODEL_ID, REQUEST)


@pytest.mark.parametrize(
    "message",
    [
        "duration must be an integer between 4 and 12",
        "Invalid parameter for this model: seed",
        "Invalid model parameters: duration must be 4-12",
        "model input validation failed: resolution not supported",
        "model: disabled parameter camera_fixed",
        "The model could not process the image: not found",
        "Unsupported model parameter: seed",
        "The model ran. The image was not found",
    ],
)
def test_an_ordinary_refusal_does_not_name_the_model_as_gone(message: str) -> None:
    assert not names_model_gone(400, message)
    assert names_model_gone(404, message)
    assert names_model_gone(410, message)


async def test_each_model_is_submitted_to_its_own_route(
    client: VibedreamClient, fake_api: FakeVibedream
) -> None:
    body = {"prompt": "a dog", "image": "https://example.com/dog.png", "duration": 6}

    submitted = await client.submit("grok-imagine-video-i2v", body)

    (request,) = fake_api.submits_to("grok-imagine-video-i2v")
    assert request.json == body
    assert fake_api.predictions[submitted.id].model == "grok-imagine-video-i2v"
    assert submitted.cost_cents == 31
