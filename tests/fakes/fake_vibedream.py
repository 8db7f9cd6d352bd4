"""In-process fake of the Vibedream image-to-video HTTP API: every model of
`tests.fakes.fake_models`, each validating its own body.

Follows the documented contract (shared/seeds/seedance-1.5-pro-i2v-api.txt, and
shared/reference/vibedream-models.md for the other models) where it is documented. Where the
documentation is silent the fake makes the choices marked "Undocumented:" below. Output clips
are served by the same server under `/outputs/...`; the real API hosts them on
assets.vibedream.ai.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aiohttp import web

from tests.fakes.fake_models import MODELS as FAKE_MODELS

MODEL_ID = "seedance-1.5-pro-i2v"
MODEL_NAME = "Seedance 1.5 Pro Image to Video"
MODERATION_ERROR = "Your request was flagged by content moderation. Please modify your prompt."

Route = Literal["submit", "status", "asset"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# A real 24-byte `ftyp` box; the clip body is this plus one `mdat` box filling the rest.
FTYP_BOX = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
STREAM_CHUNK = 64 * 1024
# Truncated JSON served by `malformed_next(kind="truncated")`.
TRUNCATED_JSON = b'{"id": "550e8400-e29b-41d4-a716-446655440000", "status": "proc'
HTML_BODY = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


def now_ms() -> datetime:
    """Current UTC time truncated to milliseconds, the API's timestamp precision."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch, computed exactly (no float rounding)."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def iso_ms(moment: datetime) -> str:
    """Format a UTC datetime like the API: `2025-01-15T12:00:00.000Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_response(payload: object, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(payload).encode(), status=status, content_type="application/json"
    )


def _error(status: int, message: str) -> web.Response:
    # Undocumented: every error body is `{"error": "<human readable message>"}`.
    return _json_response({"error": message}, status)


def validate_submit(body: object, model: str = MODEL_ID) -> list[str]:
    """Return every schema violation in a submit body for `model` (empty list when valid).

    Undocumented: the fake is strict — unknown keys, `null` for optional fields, floats
    for integer fields (`duration`, `seed`) and whitespace-only prompts are rejected.
    """
    return FAKE_MODELS[model].validate(body)


@dataclass
class RecordedRequest:
    """One request as the fake saw it, with the status it answered."""

    route: str  # "submit" | "status" | "asset" | "unknown"
    method: str
    path: str
    status: int  # 0 until a response was produced
    json: Any  # parsed JSON body, or None when absent / unparseable
    headers: dict[str, str]


RECORD_KEY = web.RequestKey("record", RecordedRequest)


@dataclass
class FakePrediction:
    """Server-side state of one accepted submit."""

    id: str
    request: dict[str, Any]
    created_at: datetime
    model: str = MODEL_ID
    status: Literal["processing", "completed", "failed"] = "processing"
    completed_at: datetime | None = None
    error: str | None = None
    outputs: list[str] | None = None
    clip_bytes: int = 64 * 1024
    #: A real clip to serve instead of `clip_bytes` zero-filled bytes.
    clip_data: bytes | None = field(default=None, repr=False)
    cost_cents: int = 29
    # Failure message decided at submit time (moderation knob), applied on completion.
    planned_error: str | None = field(default=None, repr=False)
    due_at: float = field(default=0.0, repr=False)  # event-loop time it may complete

    @property
    def output_name(self) -> str:
        """File name of the clip, `{createdAt epoch ms}-0.mp4` as in the docs' example."""
        return f"{epoch_ms(self.created_at)}-0.mp4"


@dataclass
class _Fault:
    status: int
    times: int
    body: bytes
    content_type: str
    retry_after: float | None = None


class FakeVibedream:
    """aiohttp server imitating the Vibedream API on 127.0.0.1 with test knobs and records."""

    def __init__(self, api_key: str = "test-vibedream-key") -> None:
        self.api_key = api_key
        # Knobs; applied to predictions created afterwards unless noted.
        self.estimated_time: str = "1-2s"
        #: What Seedance 1.5 Pro costs (its documented 29 cents by default).
        self.cost_cents: int = 29
        #: Per model: what a submit costs (the model's documented example by default;
        #: Seedance follows `cost_cents`) and its `estimatedTime` (`estimated_time` if unset).
        self.model_cost_cents: dict[str, int] = {
            m.id: m.cost_cents for m in FAKE_MODELS.values() if m.id != MODEL_ID
        }
        self.model_estimated_time: dict[str, str] = {}
        #: Models the fake no longer serves: their submits get a 404 naming the model (what an
        #: unknown route answers; vibedream's answer for a retired model is undocumented).
        self.retired: set[str] = set()
        self.clip_bytes: int = 64 * 1024
        #: A real mp4 (see `tests.fakes.clips.make_mp4`) served as every output instead of a
        #: zero-filled placeholder of `clip_bytes`.
        self.clip_data: bytes | None = None
        self.completion_delay_s: float = 0.3
        #: When set, each prediction completes at a uniformly random point of this (low, high)
        #: range of seconds instead of after `completion_delay_s` (drawn from `random`).
        self.completion_delay_range_s: tuple[float, float] | None = None
        #: Fraction of requests (any route) answered with a random one of
        #: `random_fault_statuses` instead of being handled; applies immediately.
        self.random_fault_rate: float = 0.0
        self.random_fault_statuses: tuple[int, ...] = (429, 500, 503)
        self.random = random.Random(0)
        self.fail_prompts_containing: dict[str, str] = {}
        self.output_content_type: str = "video/mp4"  # asset route, applies immediately
        self.redirect_assets_to: str | None = None  # asset route, applies immediately
        #: Answer an accepted submit only this long after creating its prediction (the
        #: "answer lost on the way back" case); applies immediately.
        self.submit_answer_delay_s: float = 0.0
        #: Start sending an output file only this long after it is asked for (a slow CDN);
        #: applies immediately.
        self.asset_answer_delay_s: float = 0.0
        # Records.
        self.requests: list[RecordedRequest] = []
        self.predictions: dict[str, FakePrediction] = {}
        self._faults: dict[str, deque[_Fault]] = {r: deque() for r in ("submit", "status", "asset")}
        self._flaky_every = 0
        self._flaky_count = 0
        self._held = False
        self._timers: list[asyncio.TimerHandle] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = asyncio.Event()

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Bind to a random free port on 127.0.0.1 and start serving."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/api/v1/models/{model}/generate", self._submit, name="submit")
        app.router.add_get("/api/v1/predictions/{id}", self._status, name="status")
        app.router.add_get(r"/outputs/{id}/{name:[^/]+\.mp4}", self._asset, name="asset")
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop serving and cancel pending completion timers."""
        self._closing.set()  # releases submits held by `submit_answer_delay_s`
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeVibedream:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ---- addresses -------------------------------------------------------------------

    @property
    def port(self) -> int:
        """TCP port the server listens on (after `start()`)."""
        if self._port is None:
            raise RuntimeError("FakeVibedream is not started")
        return self._port

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:PORT`, also the host of output clips."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """API base URL, the counterpart of `https://api.vibedream.ai/api/v1`."""
        return f"{self.origin}/api/v1"

    @property
    def assets_host(self) -> str:
        """Host serving output clips, the counterpart of `assets.vibedream.ai`."""
        return "127.0.0.1"

    # ---- knobs -----------------------------------------------------------------------

    @property
    def flaky_5xx_every(self) -> int:
        """When n > 0, every n-th request (any route, counted from when set) gets a 503."""
        return self._flaky_every

    @flaky_5xx_every.setter
    def flaky_5xx_every(self, n: int) -> None:
        self._flaky_every = n
        self._flaky_count = 0

    def fail_next(
        self,
        route: Route,
        status: int,
        *,
        times: int = 1,
        retry_after: float | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Answer the next `times` requests to `route` with `status` instead of handling them.

        The request is not processed (a faulted submit creates no prediction). When
        `retry_after` is given a `Retry-After` header is sent (whole seconds as an integer,
        fractions as a decimal so tests can stay fast).
        """
        if body is None:
            body = json.dumps({"error": f"Injected failure (HTTP {status})"}).encode()
        self._faults[route].append(_Fault(status, times, body, content_type, retry_after))

    def malformed_next(
        self, route: Route, times: int = 1, *, kind: Literal["truncated", "html"] = "truncated"
    ) -> None:
        """Answer the next `times` requests to `route` with 200 and an unparseable body.

        `truncated` sends cut-off JSON labelled application/json; `html` sends an HTML error
        page labelled text/html. The request is not processed.
        """
        if kind == "truncated":
            self.fail_next(route, 200, times=times, body=TRUNCATED_JSON)
        else:
            self.fail_next(route, 200, times=times, body=HTML_BODY, content_type="text/html")

    def hold(self) -> None:
        """Keep every prediction processing until `release()` or `complete_now()`."""
        self._held = True

    def release(self) -> None:
        """Stop holding; predictions whose delay already elapsed complete immediately."""
        self._held = False
        now = asyncio.get_running_loop().time()
        for prediction in list(self.predictions.values()):
            if prediction.status == "processing" and prediction.due_at <= now:
                self._finish(prediction)

    def complete_now(self, prediction_id: str, *, error: str | None = None) -> FakePrediction:
        """Finish a prediction now (even while held): failed if `error` or moderation applies."""
        prediction = self.predictions[prediction_id]
        if prediction.status == "processing":
            if error is not None:
                prediction.planned_error = error
            self._finish(prediction)
        return prediction

    # ---- records ---------------------------------------------------------------------

    @property
    def submits(self) -> list[RecordedRequest]:
        """Every submit request (accepted, rejected or faulted), in order."""
        return [r for r in self.requests if r.route == "submit"]

    def submits_to(self, model: str) -> list[RecordedRequest]:
        """Every submit request to one model's generate route, in order."""
        suffix = f"/models/{model}/generate"
        return [r for r in self.submits if r.path.endswith(suffix)]

    def status_polls(self, prediction_id: str) -> int:
        """How many status requests named this prediction (whatever they were answered)."""
        suffix = f"/predictions/{prediction_id}"
        return sum(1 for r in self.requests if r.route == "status" and r.path.endswith(suffix))

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - a per-call deadline is this helper's point
    ) -> None:
        """Poll `predicate()` until true; raise TimeoutError after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if predicate():
                return
            if loop.time() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.01)

    # ---- internals -------------------------------------------------------------------

    def _finish(self, prediction: FakePrediction) -> None:
        prediction.completed_at = now_ms()
        if prediction.planned_error is not None:
            prediction.status = "failed"
            prediction.error = prediction.planned_error
        else:
            prediction.status = "completed"
            prediction.outputs = [f"{self.origin}/outputs/{prediction.id}/{prediction.output_name}"]

    def _on_due(self, prediction_id: str) -> None:
        prediction = self.predictions.get(prediction_id)
        if prediction is not None and prediction.status == "processing" and not self._held:
            self._finish(prediction)

    def _take_fault(self, route: str) -> _Fault | None:
        queue = self._faults.get(route)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    def _random_fault(self) -> _Fault | None:
        if self.random_fault_rate <= 0 or self.random.random() >= self.random_fault_rate:
            return None
        status = self.random.choice(self.random_fault_statuses)
        body = json.dumps({"error": f"Injected failure (HTTP {status})"}).encode()
        return _Fault(status, 1, body, "application/json", 0.1 if status == 429 else None)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.name or "unknown"
        raw = await request.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        record = RecordedRequest(
            route, request.method, request.path, 0, parsed, dict(request.headers)
        )
        self.requests.append(record)
        request[RECORD_KEY] = record
        response = await self._dispatch(request, handler, route)
        record.status = response.status
        return response

    async def _dispatch(
        self, request: web.Request, handler: Handler, route: str
    ) -> web.StreamResponse:
        if self._flaky_every > 0:
            self._flaky_count += 1
            if self._flaky_count % self._flaky_every == 0:
                return _error(503, "Service temporarily unavailable")
        fault = self._take_fault(route) or self._random_fault()
        if fault is not None:
            response = web.Response(
                body=fault.body, status=fault.status, content_type=fault.content_type
            )
            if fault.retry_after is not None:
                value = fault.retry_after
                response.headers["Retry-After"] = (
                    str(int(value)) if float(value).is_integer() else str(value)
                )
            return response
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return _error(404, "Not found")
        except web.HTTPMethodNotAllowed:
            return _error(405, "Method not allowed")

    def _authorized(self, request: web.Request) -> bool:
        # Undocumented: exactly `Bearer <key>` is accepted; anything else is a 401.
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def _submit(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "Invalid or missing API key")
        model = request.match_info["model"]
        if model not in FAKE_MODELS or model in self.retired:
            # Undocumented: what an unknown (or retired) model's route answers.
            return _error(404, f"Model not found: {model}")
        # Undocumented: a wrong Content-Type is a validation error (400), not a 415.
        if request.content_type != "application/json":
            return _error(400, "Content-Type must be application/json")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _error(400, "Request body is not valid JSON")
        errors = validate_submit(body, model)
        if errors:
            return _error(400, "; ".join(errors))
        created_at = now_ms()
        prediction = FakePrediction(
            id=str(uuid.uuid4()),
            request=body,
            created_at=created_at,
            model=model,
            clip_bytes=self.clip_bytes,
            clip_data=self.clip_data,
            cost_cents=self.model_cost_cents.get(model, self.cost_cents),
        )
        # Undocumented: moderation match is a case-insensitive substring test.
        prompt = body["prompt"].lower()
        for needle, message in self.fail_prompts_containing.items():
            if needle.lower() in prompt:
                prediction.planned_error = message
                break
        loop = asyncio.get_running_loop()
        delay = self.completion_delay_s
        if self.completion_delay_range_s is not None:
            delay = self.random.uniform(*self.completion_delay_range_s)
        prediction.due_at = loop.time() + delay
        self.predictions[prediction.id] = prediction
        self._timers.append(loop.call_later(delay, self._on_due, prediction.id))
        if self.submit_answer_delay_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.submit_answer_delay_s)
        return _json_response(
            {
                "id": prediction.id,
                "status": "processing",
                "statusUrl": f"{self.base_url}/predictions/{prediction.id}",
                "estimatedTime": self.model_estimated_time.get(model, self.estimated_time),
                "costCents": prediction.cost_cents,
                "createdAt": iso_ms(created_at),
            }
        )

    async def _status(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "Invalid or missing API key")
        prediction = self.predictions.get(request.match_info["id"])
        if prediction is None:
            return _error(404, "Prediction not found")
        completed_at = prediction.completed_at
        return _json_response(
            {
                "id": prediction.id,
                "modelId": prediction.model,
                "modelName": FAKE_MODELS[prediction.model].name,
                "status": prediction.status,
                "outputs": prediction.outputs,
                "error": prediction.error,
                "createdAt": iso_ms(prediction.created_at),
                "completedAt": iso_ms(completed_at) if completed_at else None,
            }
        )

    async def _asset(self, request: web.Request) -> web.StreamResponse:
        # Undocumented: output URLs are public (no Authorization needed), like signed CDN links.
        if self.redirect_assets_to is not None:
            return web.Response(status=302, headers={"Location": self.redirect_assets_to})
        prediction = self.predictions.get(request.match_info["id"])
        if (
            prediction is None
            or prediction.status != "completed"
            or request.match_info["name"] != prediction.output_name
        ):
            return _error(404, "Output not found")
        if self.asset_answer_delay_s:
            await asyncio.sleep(self.asset_answer_delay_s)
        data = prediction.clip_data
        size = len(data) if data is not None else prediction.clip_bytes
        response = web.StreamResponse(headers={"Content-Type": self.output_content_type})
        response.content_length = size
        await response.prepare(request)
        request[RECORD_KEY].status = response.status  # already sent, even if the client aborts
        try:
            if request.method != "HEAD" and data is not None:
                await response.write(data)
            elif request.method != "HEAD":
                await self._write_clip(response, size)
            await response.write_eof()
        except ConnectionError:
            pass  # the client hung up mid-download (a test aborting on purpose); not an error
        return response

    @staticmethod
    async def _write_clip(response: web.StreamResponse, size: int) -> None:
        """Stream `ftyp` + `mdat` (zero payload) totalling `size` bytes, chunk by chunk."""
        mdat_size = max(size - len(FTYP_BOX), 0)
        header = (FTYP_BOX + mdat_size.to_bytes(4, "big") + b"mdat")[:size]
        await response.write(header)
        remaining = size - len(header)
        zeros = bytes(STREAM_CHUNK)
        while remaining > 0:
            chunk = min(remaining, STREAM_CHUNK)
            await response.write(zeros[:chunk])
            remaining -= chunk
