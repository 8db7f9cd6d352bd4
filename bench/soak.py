"""`python -m bench.soak`: many jobs through faulty fakes, with bot restarts; nothing may be lost.

Prints jobs accepted, delivered, failed with a user message, lost (must be 0), duplicated (must
be 0) and the bot's peak RSS early and late in the run (must not grow by more than 10%). Exits
non-zero when a must is broken.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procstats import machine, rss_mib
from bench.world import World, world
from tests.fakes.harness import BotProcess

_JOB_FOOTER = re.compile(r"Job #(\d+) ")
_RSS_GROWTH_MAX = 0.10


@dataclass
class Soak:
    """Counters and samples of one soak run."""

    sent: int = 0
    restarts: list[str] = field(default_factory=list)
    #: (fraction of jobs finished, bot RSS in MiB) sampled through the run.
    rss: list[tuple[float, float]] = field(default_factory=list)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # by prompt


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    add = parser.add_argument
    add("--jobs", type=int, default=2000, help="/animate calls to send (2000)")
    add("--fault-rate", type=float, default=0.05, help="fraction of requests faulted (0.05)")
    add("--restarts", type=int, default=2, help="bot restarts, alternately SIGTERM and SIGKILL")
    add("--users", type=int, default=400, help="distinct users sending them (400)")
    add("--open-max", type=int, default=100, help="jobs open at once at most (100)")
    add("--workdir", type=Path, default=None, help="keep the database and logs here")
    return parser.parse_args(argv)


#: How long the number of jobs must hold still before the soak counts them.
_SETTLE_S = 3.0

SETTINGS = {
    "MAX_JOBS_IN_FLIGHT": "50",
    "POLL_INTERVAL_S": "0.5",
    "POLL_MAX_INTERVAL_S": "2",
    "API_BACKOFF_MAX_S": "1",
    "DELIVERY_RETRY_BASE_S": "0.5",
}


async def run(args: argparse.Namespace, workdir: Path) -> tuple[str, bool]:
    """Run the soak; return the report and whether every must held."""
    started = time.monotonic()
    soak = Soak()
    async with world(workdir, **SETTINGS) as w:
        w.api.estimated_time = "1-2s"
        w.api.completion_delay_range_s = (0.5, 2.0)
        w.api.random_fault_rate = w.discord.random_fault_rate = args.fault_rate
        bot = await w.runner.start()
        sampler = asyncio.create_task(_sample_rss(w, soak, args.jobs))
        try:
            bot = await _send_all(w, soak, args, bot)
            await _wait_until_all_told(w, timeout_s=600)
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        await bot.stop()
        report, ok = _report(w, soak, args)
    elapsed = time.monotonic() - started
    return f"{report}\nsoak time {elapsed:.0f} s", ok


async def _send_all(w: World, soak: Soak, args: argparse.Namespace, bot: BotProcess) -> BotProcess:
    """Send every call, keeping at most `open_max` open, restarting the bot on the way."""
    restart_at = [args.jobs * (k + 1) // (2 * args.restarts) for k in range(args.restarts)]
    user = 0
    while soak.sent < args.jobs:
        if restart_at and soak.sent >= restart_at[0]:
            restart_at.pop(0)
            bot = await _restart(w, soak, bot)
        if w.count("notified = 0") >= args.open_max:
            await asyncio.sleep(0.2)
            continue
        batch = []
        for _ in range(min(10, args.jobs - soak.sent)):
            user = user % args.users + 1
            prompt = f"soak {soak.sent}"
            soak.sent += 1
            event = w.interaction(prompt=prompt, user_id=1_000_000 + user)
            soak.events[prompt] = event
            batch.append(event)
        await w.send_all(batch)
        await asyncio.sleep(0.1)
    return bot


async def _wait_until_all_told(w: World, timeout_s: float) -> None:
    """Wait until every job is told its outcome and no new job has appeared for a while.

    The last calls sent may not be stored yet when the wait starts (a loaded machine admits
    them later), so the number of jobs must hold still, not just match a count taken at once.
    """
    deadline = time.monotonic() + timeout_s
    seen, still_since = -1, time.monotonic()
    while True:
        total, open_jobs = w.count("1"), w.count("notified = 0")
        if total != seen:
            seen, still_since = total, time.monotonic()
        if open_jobs == 0 and time.monotonic() - still_since >= _SETTLE_S:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{open_jobs} of {total} jobs not told within {timeout_s:.0f} s")
        await asyncio.sleep(0.5)


async def _restart(w: World, soak: Soak, bot: BotProcess) -> BotProcess:
    sig = signal.SIGTERM if len(soak.restarts) % 2 == 0 else signal.SIGKILL
    await bot.stop(sig)
    soak.restarts.append(f"{sig.name} after {soak.sent} calls")
    return await w.runner.start()


async def _sample_rss(w: World, soak: Soak, jobs: int) -> None:
    while True:
        bot = w.runner.processes[-1]
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, LookupError):
            if bot.process.returncode is None:
                soak.rss.append((w.count("notified = 1") / jobs, rss_mib(bot.process.pid)))
        await asyncio.sleep(1.0)


def _report(w: World, soak: Soak, args: argparse.Namespace) -> tuple[str, bool]:
    rows = w.runner.jobs()
    messages = [
        m for m in w.discord.messages.values() if int(m["channel_id"]) == w.discord.channel_id
    ]
    posts = Counter(
        int(m[1])
        for msg in messages
        for embed in msg.get("embeds") or []
        if (m := _JOB_FOOTER.search(((embed.get("footer") or {}).get("text") or "") + " "))
    )
    all_text = "\n".join(str(msg.get("content") or "") for msg in w.discord.messages.values())
    delivered = [r for r in rows if r["state"] == "delivered" and posts[r["id"]] >= 1]
    failed_told = [
        r
        for r in rows
        if r["state"] == "failed" and r["notified"] and r["error"] and _told(w, soak, r, all_text)
    ]
    lost = len(rows) - len(delivered) - len(failed_told)
    duplicated = sum(1 for n in posts.values() if n > 1)
    start = max((rss for done, rss in soak.rss if done <= 0.1), default=float("nan"))
    end = max((rss for done, rss in soak.rss if done >= 0.9), default=float("nan"))
    growth = end / start - 1
    ok = lost == 0 and duplicated == 0 and growth <= _RSS_GROWTH_MAX and len(soak.restarts) >= 1
    lines = [
        f"machine: {machine()}",
        f"settings: {args.jobs} calls from {args.users} users, at most {args.open_max} open; "
        f"{args.fault_rate:.0%} of API requests and of Discord channel/webhook requests faulted "
        f"(API 429/500/503, Discord 500/502/503); estimate 1-2s, completion 0.5-2 s; "
        + ", ".join(f"{k}={v}" for k, v in SETTINGS.items()),
        f"restarts: {'; '.join(soak.restarts) or 'none'}",
        "",
        f"calls sent                     {soak.sent}",
        f"jobs accepted                  {len(rows)}",
        f"delivered                      {len(delivered)}",
        f"failed with a user message     {len(failed_told)}",
        f"lost (must be 0)               {lost}",
        f"duplicated (must be 0)         {duplicated}",
        f"peak RSS, first 10% of jobs    {start:.1f} MiB",
        f"peak RSS, last 10% of jobs     {end:.1f} MiB ({growth:+.1%}; must be <= +10%)",
        f"peak RSS by tenth of the jobs  {_timeline(soak.rss)}",
        f"verdict                        {'PASS' if ok else 'FAIL'}",
    ]
    return "\n".join(lines), ok


def _timeline(samples: list[tuple[float, float]]) -> str:
    """Peak RSS (MiB) in each tenth of the run, by jobs finished."""
    peaks: dict[int, float] = {}
    for done, rss in samples:
        tenth = min(9, int(done * 10))
        peaks[tenth] = max(peaks.get(tenth, 0.0), rss)
    return " ".join(f"{peaks[t]:.0f}" if t in peaks else "-" for t in range(10))


def _told(w: World, soak: Soak, row: Any, all_text: str) -> bool:
    """The user saw the failure: on their progress message, or in a channel post."""
    if f"(job #{row['id']})" in all_text:
        return True
    event = soak.events.get(row["prompt"])
    if event is None:
        return False
    token = event["token"]
    edits = [
        r
        for r in w.discord.webhook_edits()
        if token in r.path and r.status == 200 and isinstance(r.response, dict)
    ]
    return bool(edits) and row["error"] in str(edits[-1].response.get("content"))


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    if args.workdir is not None:
        report, ok = asyncio.run(run(args, args.workdir))
    else:
        with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
            report, ok = asyncio.run(run(args, Path(tmp)))
    print(report)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
