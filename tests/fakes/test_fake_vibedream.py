"""Tests of the fake Vibedream API over real HTTP."""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import av
import pytest

from tests.fakes.clips import make_mp4, top_level_boxes, video_format
from tests.fakes.fake_vibedream import MODERATION_ERROR, FakeVibedream, epoch_ms

KEY = "test-vibedream-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
VALID: dict[str, Any] = {"prompt": "A cat waves", "image": "https://example.com/cat.jpg"}
# The documented example request, verbatim.
DOC_EXAMPLE: dict[str, Any] = {
    "prompt": "A beautiful sunset over mountains with golden light",
    "image": "https://example.com/your-image.jpg",
    "last_image": "https://example.com/your-last_image.jpg",
    "duration": 4,
    "resolution": "480p",
    "aspect_ratio": "16:9",
    "camera_fixed": False,
    "seed": -1,
    "generate_audio": False,
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeVibedream]:
    async with FakeVibedream() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def submit_url(fake: FakeVibedream) -> str:
    return f"{fake.base_url}/models/seedance-1.5-pro-i2v/generate"


async def submit(
    session: aiohttp.ClientSession, fake: FakeVibedream, body: object = None
) -> tuple[int, dict[str, Any]]:
    payload = VALID if body is None else body
    async with session.post(submit_url(fake), json=payload, headers=AUTH) as resp:
        return resp.status, await resp.json()


async def poll(
    session: aiohttp.ClientSession, fake: FakeVibedream, prediction_id: str
) -> tuple[int, dict[str, Any]]:
    async with session.get(f"{fake.base_url}/predictions/{prediction_id}", headers=AUTH) as resp:
        return resp.status, await resp.json()


async def completed_prediction(
    session: aiohttp.ClientSession, fake: FakeVibedream
) -> dict[str, Any]:
    fake.completion_delay_s = 0.0
    _, body = await submit(session, fake)
    await fake.wait_for(lambda: fake.predictions[body["id"]].status == "completed")
    return (await poll(session, fake, body["id"]))[1]


async def test_submit_returns_documented_fields(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    status, body = await submit(session, fake, DOC_EXAMPLE)

    assert status == 200
    assert set(body) == {"id", "status", "statusUrl", "estimatedTime", "costCents", "createdAt"}
    assert uuid.UUID(body["id"]).version == 4
    assert body["status"] == "processing"
    assert body["statusUrl"] == f"{fake.base_url}/predictions/{body['id']}"
    assert body["estimatedTime"] == "1-2s"
    assert body["costCents"] == 29
    assert ISO_MS.match(body["createdAt"])
    assert fake.predictions[body["id"]].request == DOC_EXAMPLE


async def test_submit_reflects_estimated_time_and_cost_knobs(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    fake.estimated_time = "60-120s"
    fake.cost_cents = 58

    _, body = await submit(session, fake)

    assert (body["estimatedTime"], body["costCents"]) == ("60-120s", 58)
    assert fake.predictions[body["id"]].cost_cents == 58


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-key"}, {"Authorization": KEY}],
    ids=["missing", "wrong-key", "no-bearer-scheme"],
)
async def test_submit_without_valid_key_is_401(
    fake: FakeVibedream, session: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    async with session.post(submit_url(fake), json=VALID, headers=headers) as resp:
        assert resp.status == 401
        assert await resp.json() == {"error": "Invalid or missing API key"}
    assert fake.predictions == {}


async def test_status_without_key_is_401(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    _, body = await submit(session, fake)

    async with session.get(body["statusUrl"]) as resp:
        assert resp.status == 401
        assert await resp.json() == {"error": "Invalid or missing API key"}


@pytest.mark.parametrize(
    "body",
    [
        {"image": VALID["image"]},
        {**VALID, "prompt": ""},
        {**VALID, "prompt": "   "},
        {**VALID, "prompt": 5},
        {"prompt": "x"},
        {**VALID, "image": "not a url"},
        {**VALID, "image": "ftp://example.com/a.jpg"},
        {**VALID, "image": ["https://example.com/a.jpg"]},
        {**VALID, "last_image": "example.com/b.jpg"},
        {**VALID, "last_image": None},
        {**VALID, "duration": 3},
        {**VALID, "duration": 13},
        {**VALID, "duration": 4.5},
        {**VALID, "duration": "5"},
        {**VALID, "duration": True},
        {**VALID, "resolution": "4k"},
        {**VALID, "aspect_ratio": "2:1"},
        {**VALID, "camera_fixed": "yes"},
        {**VALID, "camera_fixed": 1},
        {**VALID, "seed": -2},
        {**VALID, "seed": 1001},
        {**VALID, "seed": False},
        {**VALID, "generate_audio": 0},
        {**VALID, "negative_prompt": "blur"},
        ["not", "an", "object"],
    ],
)
async def test_invalid_submit_is_400_recorded_and_creates_no_prediction(
    fake: FakeVibedream, session: aiohttp.ClientSession, body: object
) -> None:
    status, answer = await submit(session, fake, body)

    assert status == 400
    assert isinstance(answer["error"], str)
    assert answer["error"]
    assert [(r.status, r.json) for r in fake.submits] == [(400, body)]
    assert fake.predictions == {}


async def test_malformed_json_submit_is_400(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    async with session.post(submit_url(fake), data=b'{"prompt": ', headers=headers) as resp:
        assert resp.status == 400
        assert "error" in await resp.json()
    assert fake.submits[0].status == 400
    assert fake.predictions == {}


async def test_non_json_content_type_submit_is_400(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    headers = {**AUTH, "Content-Type": "text/plain"}
    async with session.post(submit_url(fake), data=json.dumps(VALID), headers=headers) as resp:
        assert resp.status == 400
    assert fake.predictions == {}


async def test_prediction_goes_from_processing_to_completed_with_output_url(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    fake.completion_delay_s = 0.2
    _, submitted = await submit(session, fake)
    pid = submitted["id"]

    status, first = await poll(session, fake, pid)
    await asyncio.sleep(0.3)
    _, last = await poll(session, fake, pid)

    assert status == 200
    assert first == {
        "id": pid,
        "modelId": "seedance-1.5-pro-i2v",
        "modelName": "Seedance 1.5 Pro Image to Video",
        "status": "processing",
        "outputs": None,
        "error": None,
        "createdAt": submitted["createdAt"],
        "completedAt": None,
    }
    created_ms = epoch_ms(datetime.fromisoformat(submitted["createdAt"]))
    origin = f"http://{fake.assets_host}:{fake.port}"
    assert last["status"] == "completed"
    assert last["outputs"] == [f"{origin}/outputs/{pid}/{created_ms}-0.mp4"]
    assert last["error"] is None
    assert ISO_MS.match(last["completedAt"])
    assert last["completedAt"] >= last["createdAt"]


async def test_output_is_mp4_of_configured_size_without_auth(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    fake.clip_bytes = 100_000
    done = await completed_prediction(session, fake)

    async with session.get(done["outputs"][0]) as resp:
        data = await resp.read()
        assert resp.status == 200
        assert resp.content_type == "video/mp4"
        assert resp.content_length == 100_000
    assert len(data) == 100_000
    assert data[4:8] == b"ftyp"
    assert data[28:32] == b"mdat"
    assert int.from_bytes(data[24:28], "big") == 100_000 - 24


async def test_output_can_be_a_real_clip(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    fake.clip_data = make_mp4(160, 120, seconds=0.5, audio=True)
    done = await completed_prediction(session, fake)

    async with session.get(done["outputs"][0]) as resp:
        data = await resp.read()
        assert resp.content_length == len(fake.clip_data)
    assert data == fake.clip_data
    with av.open(io.BytesIO(data)) as clip:
        assert [s.type for s in clip.streams] == ["video", "audio"]
        assert (clip.streams.video[0].width, clip.streams.video[0].height) == (160, 120)


@pytest.mark.parametrize(
    ("options", "boxes", "fmt"),
    [
        ({}, ["ftyp", "moov", "free", "mdat"], ("h264", "yuv420p")),
        ({"faststart": False}, ["ftyp", "free", "mdat", "moov"], ("h264", "yuv420p")),
        ({"pix_fmt": "yuv444p"}, ["ftyp", "moov", "free", "mdat"], ("h264", "yuv444p")),
        ({"codec": "mpeg4"}, ["ftyp", "moov", "free", "mdat"], ("mpeg4", "yuv420p")),
    ],
    ids=["playable", "moov-last", "yuv444p", "mpeg4"],
)
async def test_output_can_be_a_clip_in_a_format_that_does_not_play_everywhere(
    fake: FakeVibedream,
    session: aiohttp.ClientSession,
    options: dict[str, Any],
    boxes: list[str],
    fmt: tuple[str, str],
) -> None:
    fake.clip_data = make_mp4(160, 120, seconds=0.5, **options)
    done = await completed_prediction(session, fake)

    async with session.get(done["outputs"][0]) as resp:
        data = await resp.read()

    assert data == fake.clip_data
    assert top_level_boxes(data) == boxes
    assert video_format(data) == fmt


async def test_large_output_streams_completely(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    size = 50 * 1024 * 1024
    fake.clip_bytes = size
    done = await completed_prediction(session, fake)

    received = 0
    async with session.get(done["outputs"][0]) as resp:
        assert resp.content_length == size
        async for chunk in resp.content.iter_chunked(1024 * 1024):
            received += len(chunk)
    assert received == size


async def test_output_of_unfinished_prediction_is_404(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    fake.hold()
    _, body = await submit(session, fake)

    async with session.get(f"{fake.origin}/outputs/{body['id']}/0-0.mp4") as resp:
        assert resp.status == 404


async def test_asset_knobs_override_content_type_and_redirect(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    done = await completed_prediction(session, fake)
    url = done["outputs"][0]

    fake.output_content_type = "text/html"
    async with session.get(url) as resp:
        assert resp.content_type == "text/html"
    fake.redirect_assets_to = "http://169.254.169.254/latest/meta-data"
    async with session.get(url, allow_redirects=False) as resp:
        assert resp.status == 302
        assert resp.headers["Location"] == "http://169.254.169.254/latest/meta-data"


async def test_moderated_prompt_fails_with_message(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    fake.completion_delay_s = 0.0
    fake.fail_prompts_containing = {"forbidden": MODERATION_ERROR}
    _, body = await submit(session, fake, {**VALID, "prompt": "Something FORBIDDEN here"})
    await fake.wait_for(lambda: fake.predictions[body["id"]].status != "processing")

    _, result = await poll(session, fake, body["id"])

    assert result["status"] == "failed"
    assert result["outputs"] is None
    assert result["error"] == MODERATION_ERROR
    assert ISO_MS.match(result["completedAt"])


async def test_fail_next_429_carries_retry_after_then_recovers(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    fake.fail_next("submit", 429, retry_after=2)

    async with session.post(submit_url(fake), json=VALID, headers=AUTH) as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "2"
        assert "error" in await resp.json()
    status, _ = await submit(session, fake)

    assert status == 200
    assert [r.status for r in fake.submits] == [429, 200]
    assert len(fake.predictions) == 1


async def test_fail_next_applies_to_given_route_and_count_only(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    _, body = await submit(session, fake)
    fake.fail_next("status", 500, times=2, body=b"oops")

    statuses = [(await poll_status(session, fake, body["id"])) for _ in range(3)]

    assert statuses == [500, 500, 200]
    assert fake.status_polls(body["id"]) == 3


async def poll_status(session: aiohttp.ClientSession, fake: FakeVibedream, pid: str) -> int:
    async with session.get(f"{fake.base_url}/predictions/{pid}", headers=AUTH) as resp:
        return resp.status


async def test_flaky_5xx_every_third_request_is_503(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    _, body = await submit(session, fake)
    fake.flaky_5xx_every = 3

    statuses = [await poll_status(session, fake, body["id"]) for _ in range(6)]

    assert statuses == [200, 200, 503, 200, 200, 503]


async def test_malformed_next_returns_200_with_unparseable_body(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    fake.malformed_next("submit")

    async with session.post(submit_url(fake), json=VALID, headers=AUTH) as resp:
        assert resp.status == 200
        raw = await resp.read()
    with pytest.raises(ValueError):  # noqa: PT011 - JSONDecodeError is the ValueError expected
        json.loads(raw)
    assert fake.predictions == {}
    assert (await submit(session, fake))[0] == 200


async def test_unknown_prediction_is_404(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    status, body = await poll(session, fake, str(uuid.uuid4()))

    assert (status, body) == (404, {"error": "Prediction not found"})


async def test_hold_keeps_processing_until_complete_now_or_release(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    fake.completion_delay_s = 0.05
    fake.hold()
    _, first = await submit(session, fake)
    _, second = await submit(session, fake)
    await asyncio.sleep(0.2)
    assert (await poll(session, fake, first["id"]))[1]["status"] == "processing"

    fake.complete_now(first["id"])
    assert (await poll(session, fake, first["id"]))[1]["status"] == "completed"
    assert (await poll(session, fake, second["id"]))[1]["status"] == "processing"

    fake.release()
    assert (await poll(session, fake, second["id"]))[1]["status"] == "completed"


async def test_requests_are_recorded_in_order_with_routes(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    done = await completed_prediction(session, fake)
    async with session.get(done["outputs"][0]) as resp:
        await resp.read()

    routes = [(r.route, r.method, r.status) for r in fake.requests]

    assert routes == [("submit", "POST", 200), ("status", "GET", 200), ("asset", "GET", 200)]
    assert fake.requests[0].headers["Authorization"] == f"Bearer {KEY}"
    assert "Authorization" not in fake.requests[2].headers


async def test_completion_delay_range_sets_each_due_time_inside_the_range(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    fake.completion_delay_range_s = (0.05, 0.2)
    loop = asyncio.get_running_loop()
    for _ in range(3):
        before = loop.time()
        _, body = await submit(session, fake)
        after = loop.time()

        due = fake.predictions[body["id"]].due_at
        assert before + 0.05 <= due <= after + 0.2
    await fake.wait_for(lambda: all(p.status == "completed" for p in fake.predictions.values()))


async def test_random_faults_answer_about_the_given_share_unprocessed(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    fake.random_fault_rate = 0.5
    fake.random_fault_statuses = (503,)

    statuses = [(await submit(session, fake))[0] for _ in range(40)]

    assert set(statuses) == {200, 503}
    assert len(fake.predictions) == statuses.count(200)


# Every model ----------------------------------------------------------------------------------


async def submit_to(
    session: aiohttp.ClientSession, fake: FakeVibedream, model: str, body: object
) -> tuple[int, dict[str, Any]]:
    url = f"{fake.base_url}/models/{model}/generate"
    async with session.post(url, json=body, headers=AUTH) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize(
    ("model", "body"),
    [
        ("veo3.1-fast", {**VALID, "duration": "8", "resolution": "1080p", "seed": 0}),
        ("veo3-i2v", {**VALID, "duration": 1, "negative_prompt": "blur"}),
        (
            "vidu-q3-i2v",
            {**VALID, "resolution": "540p", "movement_amplitude": "auto", "bgm": False},
        ),
        ("grok-imagine-video-i2v", {**VALID, "duration": 6, "aspect_ratio": "2:3"}),
        ("i2v-pro", {**VALID, "enable_prompt_expansion": False}),
        ("wan-2.2-spicy", {**VALID, "duration": 8, "seed": -1, "enable_safety_checker": False}),
    ],
)
async def test_each_model_accepts_its_own_documented_parameters(
    fake: FakeVibedream, session: aiohttp.ClientSession, model: str, body: dict[str, Any]
) -> None:
    status, answer = await submit_to(session, fake, model, body)

    assert status == 200, answer
    assert fake.predictions[answer["id"]].model == model


@pytest.mark.parametrize(
    ("model", "body", "error"),
    [
        ("veo3.1-fast", {**VALID, "duration": 8}, "duration must be one of 4, 6, 8"),
        ("veo3.1-fast", {**VALID, "last_image": "https://example.com/b.jpg"}, "Unknown parameter"),
        ("veo3-i2v", {**VALID, "camera_fixed": True}, "Unknown parameter: camera_fixed"),
        ("grok-imagine-video-i2v", {**VALID, "seed": 3}, "Unknown parameter: seed"),
        ("i2v-pro", {**VALID, "duration": 5}, "Unknown parameter: duration"),
        ("wan-2.2-spicy", {**VALID, "resolution": "1080p"}, "resolution must be one of"),
        ("vidu-q3-i2v", {"prompt": "x"}, "image is required"),
    ],
)
async def test_each_model_refuses_what_its_schema_lacks_with_a_json_error(
    fake: FakeVibedream,
    session: aiohttp.ClientSession,
    model: str,
    body: dict[str, Any],
    error: str,
) -> None:
    status, answer = await submit_to(session, fake, model, body)

    assert status == 400
    assert error in answer["error"]
    assert fake.predictions == {}


async def test_each_model_has_its_own_price_and_estimate(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    fake.model_estimated_time["veo3.1-fast"] = "60-180s"

    _, veo = await submit_to(session, fake, "veo3.1-fast", VALID)
    _, seedance = await submit(session, fake)

    assert (veo["costCents"], veo["estimatedTime"]) == (88, "60-180s")
    assert (seedance["costCents"], seedance["estimatedTime"]) == (29, "1-2s")
    _, status = await poll(session, fake, veo["id"])
    assert (status["modelId"], status["modelName"]) == ("veo3.1-fast", "Veo 3.1 Fast")


async def test_a_retired_or_unknown_model_is_a_404_naming_it(
    fake: FakeVibedream, session: aiohttp.ClientSession
) -> None:
    fake.retired.add("seedance-1.5-pro-i2v")

    retired = await submit(session, fake)
    unknown = await submit_to(session, fake, "sora-2", VALID)
    other = await submit_to(session, fake, "veo3-i2v", VALID)

    assert retired == (404, {"error": "Model not found: seedance-1.5-pro-i2v"})
    assert unknown == (404, {"error": "Model not found: sora-2"})
    assert other[0] == 200
