"""Running it as a service, end to end: each start-up failure is one line and an exit status,
`python -m bot check` against the fakes, `/healthz` as the gateway comes and goes, `/metrics`
over one job, and JSON logs."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import (
    BotRunner,
    animate_interaction,
    is_clip_post,
    wait_until,
)
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.constants import ATTACH_FILES
from tests.fakes.fake_vibedream import FakeVibedream

#: Exit statuses (bot.ops.startup): a setting to fix, a service that stayed unreachable.
EXIT_SETTINGS, EXIT_CONFIG, EXIT_UNAVAILABLE = 1, 78, 69
#: A failed start must end this fast (the retries below are shortened to fit).
WITHIN_S = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


async def failed_start(runner: BotRunner, **overrides: str) -> tuple[int, list[str]]:
    bot = await runner.run_to_end(timeout_s=WITHIN_S, **overrides)
    output = bot.log_text()
    assert "Traceback" not in output
    assert bot.process.returncode is not None
    return bot.process.returncode, lines(output)


# Start-up failures -----------------------------------------------------------------------------


async def test_an_empty_token_is_one_line_naming_it_and_what_to_put(runner: BotRunner) -> None:
    code, output = await failed_start(runner, discord_token="")

    assert code == EXIT_SETTINGS
    assert len(output) == 1
    assert output[0].startswith(
        "Configuration error (see .env.example): DISCORD_TOKEN is empty or missing: "
        "put your bot's token there"
    )


async def test_a_token_discord_refuses_is_one_line_saying_where_to_reset_it(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    discord_fake.fail_next("GET", r"/users/@me", 401, {"message": "401: Unauthorized", "code": 0})

    code, output = await failed_start(runner)

    assert code == EXIT_CONFIG
    assert output[-1].endswith(
        "CRITICAL bot: cannot start: Discord refused DISCORD_TOKEN (401 Unauthorized): reset it "
        "at https://discord.com/developers/applications -> your application -> Bot -> Reset "
        "Token and put the new token in .env"
    )
    assert discord_fake.identify_count == 0


async def test_unreachable_discord_is_retried_a_bounded_number_of_times_then_one_line(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/api/v10"

    code, output = await failed_start(
        runner, discord_api_url=nowhere, startup_attempts="3", startup_backoff_max_s="0.2"
    )

    assert code == EXIT_UNAVAILABLE
    attempts = [line for line in output if "cannot be reached" in line]
    assert [line.rsplit("; ", 1)[1] for line in attempts] == [
        "attempt 1 of 3, next in 0.2 s",
        "attempt 2 of 3, next in 0.2 s",
    ]
    assert f"cannot start: Discord ({nowhere}) could not be reached in 3 attempts" in output[-1]
    assert output[-1].endswith("check the network (and DISCORD_API_URL if you set it)")


async def test_a_gateway_that_stays_unreachable_at_start_is_retried_then_one_line(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    discord_fake.refuse_gateway = True

    code, output = await failed_start(runner, startup_attempts="2", startup_backoff_max_s="0.2")

    assert code == EXIT_UNAVAILABLE
    assert len([r for r in discord_fake.requests if r.path == "/gateway"]) == 2
    assert any("gateway cannot be reached" in line and "attempt 1 of 2" in line for line in output)
    assert "cannot start: Discord's gateway could not be reached in 2 attempts" in output[-1]


async def test_a_refused_video_api_key_is_one_line(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    code, output = await failed_start(runner, vibedream_api_key="not-the-key")

    assert code == EXIT_CONFIG
    assert output[-1].endswith(
        "cannot start: the video API refused VIBEDREAM_API_KEY: check it, or make a new one at "
        "vibedream.ai/models/api-keys, and put it in .env"
    )
    assert video_api.submits == []
    assert discord_fake.identify_count == 0


# python -m bot check ---------------------------------------------------------------------------


async def test_check_passes_against_the_fakes_naming_the_bot_and_its_application(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    checked = await runner.run_to_end("check")

    output = lines(checked.log_text())
    assert checked.process.returncode == 0, output
    assert all(line.startswith("ok ") for line in output)
    assert [line[8:].split(":")[0] for line in output] == [
        "settings",
        "discord token",
        "discord application",
        "discord servers",
        "database",
        "video API key",
        "vibedream output hosts",
        "discord cdn hosts",
    ]
    assert f"bot user FakeBot ({discord_fake.bot_user_id}) of application Fake App" in output[1]
    assert "will be created at the first start" in output[4]
    assert not runner.db_path.exists()  # checked, not made
    assert video_api.submits == []
    assert discord_fake.identify_count == 0


def _without_attach_files(discord: FakeDiscord) -> None:
    everyone = discord.role(discord.everyone_role_id)
    everyone["permissions"] = str(int(everyone["permissions"]) & ~ATTACH_FILES)


def _with_interactions_endpoint(discord: FakeDiscord) -> None:
    discord.application_overrides = {"interactions_endpoint_url": "https://example.com/i"}


BROKEN: dict[str, tuple[dict[str, str], Any, str]] = {
    "refused token": (
        {"discord_token": "not-the-token"},
        None,
        "PROBLEM discord token: Discord refused DISCORD_TOKEN (401 Unauthorized): reset it",
    ),
    "refused key": (
        {"vibedream_api_key": "not-the-key"},
        None,
        "PROBLEM video API key: the video API refused VIBEDREAM_API_KEY",
    ),
    "empty key": (
        {"vibedream_api_key": ""},
        None,
        "PROBLEM settings: VIBEDREAM_API_KEY is empty or missing",
    ),
    "database url": (
        {"database_url": "mysql://db/bot"},
        None,
        "PROBLEM database: DATABASE_URL (mysql://db/bot) must look like sqlite:///path/to/bot.db",
    ),
    "output hosts": (
        {"vibedream_output_hosts": "http://127.0.0.1/outputs"},
        None,
        "PROBLEM vibedream output hosts: VIBEDREAM_OUTPUT_HOSTS holds http://127.0.0.1/outputs",
    ),
    "interactions endpoint": (
        {},
        _with_interactions_endpoint,
        "PROBLEM discord application: remove the Interactions Endpoint URL",
    ),
    "missing permission": (
        {},
        _without_attach_files,
        "PROBLEM discord servers: in Fake Guild",
    ),
}


@pytest.mark.parametrize("broken", BROKEN, ids=list(BROKEN))
async def test_check_fails_with_the_line_that_says_what_to_fix(
    broken: str, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    overrides, setup, expected = BROKEN[broken]
    if setup is not None:
        setup(discord_fake)

    checked = await runner.run_to_end("check", **overrides)

    output = lines(checked.log_text())
    assert checked.process.returncode == 1
    assert [line for line in output if line.startswith("PROBLEM")] == [
        line for line in output if line.startswith(expected)
    ]
    assert any(line.startswith(expected) for line in output), output
    assert "Traceback" not in checked.log_text()


# Health and metrics ----------------------------------------------------------------------------


async def _health(http: aiohttp.ClientSession, port: int) -> tuple[int, dict[str, Any]] | None:
    try:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as answer:
            return answer.status, await answer.json()
    except aiohttp.ClientConnectionError:
        return None  # not serving yet


async def test_healthz_is_503_until_the_gateway_is_up_and_again_when_it_drops(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    port = free_port()
    discord_fake.refuse_gateway = True
    seen: list[tuple[int, dict[str, Any]] | None] = []
    async with aiohttp.ClientSession() as http:

        async def health_is(status: int) -> bool:
            seen.append(await _health(http, port))
            return seen[-1] is not None and seen[-1][0] == status

        bot = await runner.launch(metrics_port=str(port))
        await wait_until_async(lambda: health_is(503), 20)
        assert seen[-1] == (503, {"status": "unavailable", "reason": "gateway not connected"})
        await wait_until(lambda: _refused_gateway(discord_fake), 20)

        discord_fake.refuse_gateway = False
        await wait_until_async(lambda: health_is(200), 20)
        assert seen[-1] == (200, {"status": "ok"})

        discord_fake.refuse_gateway = True
        await discord_fake.disconnect_gateway()
        await wait_until_async(lambda: health_is(503), 10)
        assert seen[-1] == (503, {"status": "unavailable", "reason": "gateway not connected"})
    await bot.stop()


def _refused_gateway(discord: FakeDiscord) -> bool:
    return any(r.path == "/gateway" and r.status == 503 for r in discord.requests)


async def wait_until_async(check: Callable[[], Awaitable[bool]], timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not await check():  # noqa: ASYNC110 - the state lives in another process
            await asyncio.sleep(0.1)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.name.endswith("_bucket")
    }


async def test_metrics_move_by_exactly_one_job_s_worth_after_one_job(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    port = free_port()
    await runner.start(metrics_port=str(port))
    async with aiohttp.ClientSession() as http:

        async def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as answer:
                assert answer.status == 200
                return _samples(await answer.text())

        before = await scrape()
        await discord_fake.send_interaction(animate_interaction(discord_fake))
        await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)
        await wait_until(lambda: runner.jobs()[0]["state"] == "delivered")
        after = await scrape()

    moved = {key: after[key] - before.get(key, 0.0) for key in after}
    polls = video_api.status_polls(runner.jobs()[0]["prediction_id"])
    animate = (("kind", "animate"),)
    assert moved[("animate_jobs_started_total", animate)] == 1
    assert moved[("animate_jobs_delivered_total", animate)] == 1
    assert moved[("animate_jobs_failed_total", animate)] == 0
    assert moved[("animate_api_request_seconds_count", (("route", "submit"),))] == 1
    assert moved[("animate_api_request_seconds_count", (("route", "status"),))] == polls
    assert moved[("animate_delivery_lag_seconds_count", ())] == 1
    assert after[("animate_jobs_waiting", ())] == after[("animate_jobs_at_api", ())] == 0
    assert all(value == 0 for key, value in moved.items() if "error" in key[0]), moved
    others = {key for key, value in moved.items() if value} - {
        ("animate_jobs_started_total", animate),
        ("animate_jobs_delivered_total", animate),
        ("animate_api_request_seconds_count", (("route", "submit"),)),
        ("animate_api_request_seconds_count", (("route", "status"),)),
        ("animate_api_request_seconds_sum", (("route", "submit"),)),
        ("animate_api_request_seconds_sum", (("route", "status"),)),
        ("animate_delivery_lag_seconds_count", ()),
        ("animate_delivery_lag_seconds_sum", ()),
    }
    assert others == set()


# Logs --------------------------------------------------------------------------------------------


async def test_json_logs_are_one_object_per_line_with_the_job_on_its_lines(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    bot = await runner.start(log_format="json")
    await discord_fake.send_interaction(animate_interaction(discord_fake))
    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)
    await wait_until(lambda: runner.jobs()[0]["state"] == "delivered")
    await bot.stop()

    entries = [json.loads(line) for line in lines(bot.log_text())]
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in entries)
    job_id = runner.jobs()[0]["id"]
    about_the_job = [entry for entry in entries if entry.get("job_id") == job_id]
    assert any("-> delivered" in entry["message"] for entry in about_the_job)
    assert all(entry["message"].startswith(f"job {job_id}") for entry in about_the_job)
    # The runner fixture's secret scan reads this log too.


async def test_discord_rate_limit_waits_are_counted(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    port = free_port()
    await runner.start(metrics_port=str(port))
    channel = discord_fake.channel_id
    discord_fake.fail_next("POST", rf"/channels/{channel}/messages", 429)  # 0.05 s to wait

    await discord_fake.send_interaction(animate_interaction(discord_fake))
    await discord_fake.wait_for_request(is_clip_post(channel), 20)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as answer,
    ):
        samples = _samples(await answer.text())

    assert samples[("animate_discord_rate_limit_waits_total", ())] == 1
    assert samples[("animate_discord_rate_limit_wait_seconds_total", ())] == 0.05
