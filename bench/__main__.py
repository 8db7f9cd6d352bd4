"""`python -m bench`: run the workloads against the real bot process and print a table.

Defaults fit a 2-core machine in under five minutes; `--help` lists the size options.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.big_database import HistoryResult, history
from bench.cluster import GUILDS_PER_SHARD, SHARDS, ClusterPlan, ClusterResult, cluster
from bench.media import ClipSpec, MediaResult, media
from bench.procstats import MiB, machine
from bench.stats import Row, check, ms, percentile, table
from bench.variations import VariationsResult, variations
from bench.workloads import BigClipResult, BurstResult, ScaleResult, big_clip, burst, scale
from tests.postgres_server import PostgresMissingError

WORKLOADS = ("burst", "scale", "bigclip", "history", "variations", "media", "cluster")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    add = parser.add_argument
    add("--only", default=",".join(WORKLOADS), help="comma-separated workloads to run")
    add("--burst", type=int, default=200, help="/animate calls arriving at once (200)")
    add(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiplies the API's 60-120 s estimate and the bot's poll intervals (1.0 = real)",
    )
    add("--clip-mib", type=float, default=1.0, help="clip size in the burst, MiB (1)")
    add(
        "--burst-history",
        type=int,
        default=0,
        help="finished jobs in the burst's database before it starts, so progress uses a "
        "learned ETA (0)",
    )
    add("--scale-levels", default="10,100,1000", help="jobs in flight, comma-separated")
    add("--scale-window", type=float, default=20.0, help="seconds to watch each level (20)")
    add("--big-clip-mib", type=int, default=50, help="size of the big clip, MiB (50)")
    add("--history-jobs", type=int, default=1_000_000, help="jobs in the history (1,000,000)")
    add("--history-users", type=int, default=10_000, help="users in the history (10,000)")
    add("--history-guilds", type=int, default=100, help="servers in the history (100)")
    add("--samples", type=int, default=300, help="timed queries of each kind (300)")
    add(
        "--variations-groups",
        type=int,
        default=10,
        help="4-variation jobs at once, then 4x as many single jobs (10)",
    )
    add("--media-seconds", type=float, default=12.0, help="length of the media clip, s (12)")
    add("--media-height", type=int, default=1080, help="height of the media clip, 16:9 (1080)")
    add(
        "--cluster-burst",
        type=int,
        default=100,
        help="/animate calls at once against 3 processes, then 1 (100)",
    )
    add(
        "--cluster-admission",
        type=int,
        default=50,
        help="/animate calls at once on the 3 processes while the API holds them (50)",
    )
    add(
        "--cluster-warmup",
        type=int,
        default=10,
        help="jobs each configuration finishes (quickly) before its burst (10)",
    )
    add("--cluster-idle", type=float, default=10.0, help="seconds the idle cluster is watched (10)")
    add(
        "--cluster-sqlite",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the burst on 1 process on SQLite, for reference (yes)",
    )
    add("--job-lease-s", type=float, default=None, help="JOB_LEASE_S (the bot's default)")
    add("--job-poll-s", type=float, default=None, help="JOB_POLL_S (the bot's default)")
    add("--workdir", type=Path, default=None, help="keep databases and logs here")
    return parser.parse_args(argv)


def burst_rows(r: BurstResult, args: argparse.Namespace, cpu_per_mib_s: float | None) -> list[Row]:
    """Rows for the burst workload."""
    ack, lag = r.ack_s, r.delivery_lag_s
    lag_p95 = percentile(lag, 95)
    per_job = r.status_requests / r.jobs
    baseline = r.baseline_requests / r.jobs
    cpu_job = r.cpu_s / r.jobs
    rows = [
        Row(
            f"ack latency, {r.jobs} calls at once",
            ms(percentile(ack, 50)),
            ms(percentile(ack, 99)),
            "p99 < 250 ms",
            check(percentile(ack, 99), 0.25, " ms", 1000),
        ),
        Row(
            f"delivery lag (completedAt -> upload), {len(lag)} clips",
            f"{percentile(lag, 50):.2f} s",
            f"{percentile(lag, 99):.2f} s (p95 {lag_p95:.2f} s)",
            "p95 < 2.5 s",
            check(lag_p95, 2.5, " s"),
        ),
        Row(
            "status requests per job",
            f"{per_job:.1f}",
            f"1 s polling: {baseline:.1f} ({per_job / baseline:.2f}x)",
            "< 0.3x of 1 s polling",
            check(per_job / baseline, 0.3, "x"),
        ),
        Row(
            "Discord requests per job (progress edits)",
            f"{r.discord_requests / r.jobs:.1f}",
            f"({r.progress_edits / r.jobs:.1f}; Queued or Sending {r.waiting_edits / r.jobs:.1f})",
        ),
        Row(
            f"bot peak RSS (VmHWM), burst of {r.jobs}",
            "",
            f"{r.peak_rss_mib:.1f} MiB",
        ),
        Row(
            f"bot CPU per job, with its {args.clip_mib:g} MiB download + upload",
            f"{cpu_job * 1000:.1f} ms",
            f"{r.cpu_s:.1f} s for {r.jobs} jobs in {r.wall_s:.0f} s",
        ),
    ]
    if cpu_per_mib_s is not None:
        net = cpu_job - cpu_per_mib_s * args.clip_mib
        rows.append(
            Row(
                "bot CPU per job, excluding the clip transfer",
                f"{net * 1000:.1f} ms",
                f"(transfer {cpu_per_mib_s * 1000:.1f} ms/MiB)",
                "< 20 ms",
                check(net, 0.020, " ms", 1000),
            )
        )
    rows.append(Row("jobs delivered", f"{r.delivered}/{r.jobs}", ""))
    return rows


def scale_rows(results: list[ScaleResult]) -> list[Row]:
    """Rows for the in-flight scale workload."""
    rows = []
    for r in results:
        verdict = check(r.peak_rss_mib, 150, " MiB") if r.in_flight >= 1000 else ""
        rows.append(
            Row(
                f"{r.in_flight} jobs in flight: peak RSS",
                "",
                f"{r.peak_rss_mib:.1f} MiB",
                "< 150 MiB at 1000" if r.in_flight >= 1000 else "",
                verdict,
            )
        )
        rows.append(
            Row(
                f"{r.in_flight} in flight: CPU per job (intake; following)",
                f"{r.intake_cpu_s / r.in_flight * 1000:.1f} ms",
                f"{r.window_cpu_s / r.in_flight / r.window_s * 60 * 1000:.1f} ms per job-minute"
                f" ({r.window_polls / r.window_s:.0f} polls/s)",
            )
        )
    return rows


def big_clip_rows(r: BigClipResult) -> list[Row]:
    """Rows for the big clip."""
    grew = r.peak_after_mib - r.peak_before_mib
    return [
        Row(
            f"peak RSS rise delivering a {r.clip_mib} MiB clip (as {r.delivered_as})",
            "",
            f"{grew:+.1f} MiB ({r.peak_before_mib:.1f} -> {r.peak_after_mib:.1f})",
            "< 15 MiB",
            check(grew, 15, " MiB"),
        )
    ]


def variations_rows(r: VariationsResult) -> list[Row]:
    """Rows for 4-variation jobs next to single jobs."""
    rows = []
    for label, phase in (
        (f"{r.groups} x 4 variations", r.grouped),
        (f"{r.groups * 4} single jobs", r.single),
    ):
        rows.append(
            Row(
                f"delivery lag per clip (completedAt -> upload), {label}",
                f"{percentile(phase.lag_s, 50):.2f} s",
                f"{percentile(phase.lag_s, 99):.2f} s",
            )
        )
        rows.append(
            Row(
                f"delivery lag from the last clip made to its post, {label}",
                f"{percentile(phase.last_lag_s, 50):.2f} s",
                f"{percentile(phase.last_lag_s, 99):.2f} s ({phase.posts} posts)",
            )
        )
        rows.append(
            Row(
                f"bot CPU per clip, {label}",
                f"{phase.cpu_s / phase.clips * 1000:.1f} ms",
                f"{phase.cpu_s:.1f} s for {phase.clips} clips",
            )
        )
    return rows


def history_rows(r: HistoryResult) -> list[Row]:
    """Rows for the history queries."""
    label = f"{r.jobs:,} jobs"
    rows = [
        Row(
            f"/usage (Store.usage_report), {label}",
            ms(percentile(r.usage_s, 50)),
            ms(percentile(r.usage_s, 99)),
            "p99 < 20 ms",
            check(percentile(r.usage_s, 99), 0.020, " ms", 1000),
        )
    ]
    p99 = percentile(r.report_s, 99)
    rows.append(
        Row(
            f"admin usage report, all time (Store.guild_usage), {label}",
            ms(percentile(r.report_s, 50)),
            ms(p99),
            "p99 < 200 ms",
            check(p99, 0.200, " ms", 1000),
        )
    )
    for name, timings, target_s in (
        (f"ETA history (Store.recent_generation_s), {label}", r.eta_s, 0.020),
        (f"/animate-history page (Store.history_page), {label}", r.history_s, 0.020),
        (f"/animate-show autocomplete (Store.job_choices), {label}", r.choices_s, 0.050),
    ):
        p99 = percentile(timings, 99)
        rows.append(
            Row(
                name,
                ms(percentile(timings, 50), 2),
                ms(p99, 2),
                f"p99 < {target_s * 1000:g} ms",
                check(p99, target_s, " ms", 1000),
            )
        )
    worst_day = max(r.purge_daily_s, default=math.nan)
    rows.append(
        Row(
            f"daily retention purge (Store.redact_before), {label}",
            ms(percentile(r.purge_daily_s, 50), 2),
            f"{ms(worst_day, 2)} (the first one: {r.purge_first_s:.2f} s)",
            "< 100 ms",
            check(worst_day, 0.100, " ms", 1000),
        )
    )
    return rows


def media_rows(results: list[MediaResult], clip: ClipSpec) -> list[Row]:
    """Rows for the remux, the re-encode and the GIF, each in a process of its own."""
    what = {
        "remux": "remux (index last -> faststart, no re-encode)",
        "re-encode": "re-encode (H.264 yuv444p -> yuv420p faststart)",
        "gif": "GIF button (scaled and trimmed to 10 MiB)",
    }
    return [
        Row(
            f"{what[r.operation]}, {clip} clip of {r.source_mib:.0f} MiB",
            f"{r.wall_s:.2f} s (CPU {r.cpu_s:.2f} s)",
            f"peak RSS {r.peak_rss_mib:.0f} MiB (+{r.peak_rss_mib - r.base_rss_mib:.0f})",
        )
        for r in results
    ]


def cluster_plan(args: argparse.Namespace) -> ClusterPlan:
    """The cluster workload's sizes and settings from the command line."""
    return ClusterPlan(
        jobs=args.cluster_burst,
        admission_requests=args.cluster_admission,
        scale=args.time_scale,
        clip_bytes=int(args.clip_mib * MiB),
        idle_s=args.cluster_idle,
        warmup=args.cluster_warmup,
        with_sqlite=args.cluster_sqlite,
        job_lease_s=args.job_lease_s,
        job_poll_s=args.job_poll_s,
    )


def cluster_rows(r: ClusterResult, plan: ClusterPlan) -> list[Row]:
    """Rows for the cluster: each configuration's burst, then the cluster's admission,
    idle database load and takeover."""
    rows = []
    for b in r.bursts:
        ack_p99, lag_p95 = percentile(b.ack_s, 99), percentile(b.delivery_lag_s, 95)
        rows += [
            Row(
                f"ack latency, {b.jobs} calls at once, {b.label}",
                ms(percentile(b.ack_s, 50)),
                ms(ack_p99),
                "p99 < 250 ms",
                check(ack_p99, 0.25, " ms", 1000),
            ),
            Row(
                f"delivery lag (completedAt -> upload), {b.label}",
                f"{percentile(b.delivery_lag_s, 50):.2f} s",
                f"{percentile(b.delivery_lag_s, 99):.2f} s (p95 {lag_p95:.2f} s)",
                "p95 < 2.5 s",
                check(lag_p95, 2.5, " s"),
            ),
            Row(
                f"bot CPU per job (its processes' sum), {b.label}",
                f"{b.bot_cpu_s / b.jobs * 1000:.1f} ms",
                f"{b.bot_cpu_s:.1f} s for {b.jobs} jobs in {b.wall_s:.0f} s",
            ),
        ]
        if b.db_cpu_s is not None:
            rows.append(
                Row(
                    f"PostgreSQL server CPU per job, {b.label}",
                    f"{b.db_cpu_s / b.jobs * 1000:.1f} ms",
                    f"{b.db_cpu_s:.1f} s",
                )
            )
        if b.statements is not None:
            st = b.statements
            rows.append(
                Row(
                    f"database statements per job, {b.label}",
                    f"{st.total / b.jobs:.1f}",
                    f"(BEGIN/COMMIT {st.transaction_control / b.jobs:.1f}; {st.total:,} in all)",
                )
            )
        if b.backends is not None:
            rows.append(
                Row(
                    f"bots' PostgreSQL connections in the burst, {b.label}",
                    f"{b.backends.connections} open",
                    f"busy {b.backends.busy} at once; "
                    f"{b.backends.waiting_for_lock} waiting for an advisory lock",
                )
            )
        rows.append(Row(f"jobs delivered, {b.label}", f"{b.delivered}/{b.jobs}", ""))
    idle = r.idle
    per_s = idle.statements.total / idle.window_s / idle.processes
    rows.append(
        Row(
            f"idle: database statements per second per process, {idle.processes} processes",
            f"{per_s:.2f}",
            f"({idle.statements.total} in {idle.window_s:g} s)",
        )
    )
    a = r.admission
    ack_p99 = percentile(a.ack_s, 99)
    rows += [
        Row(
            f"admission, {a.requests} calls at once on 3 processes: interaction -> ack",
            ms(percentile(a.ack_s, 50)),
            ms(ack_p99),
            "p99 < 250 ms",
            check(ack_p99, 0.25, " ms", 1000),
        ),
        Row(
            f"admission, {a.requests} calls at once: interaction -> job stored",
            ms(percentile(a.stored_s, 50)),
            ms(percentile(a.stored_s, 99)),
        ),
    ]
    t = r.takeover
    limit = plan.lease_s + plan.poll_s
    worst = max(t.taken_s, default=math.nan)
    left = t.lease_left_s
    rows += [
        Row(
            f"takeover after SIGKILL, {t.held} jobs held by {t.victim} "
            f"({t.log_lines} takeover log lines)",
            f"{percentile(t.taken_s, 50):.1f} s",
            f"{worst:.1f} s (worst; lease left at the kill "
            f"{min(left, default=math.nan):.1f}-{max(left, default=math.nan):.1f} s)",
            f"< JOB_LEASE_S + JOB_POLL_S = {limit:g} s",
            check(worst, limit, " s"),
        ),
        Row(
            "after the takeover: delivered; clip posts; submits",
            f"{t.delivered}/{t.jobs}",
            f"{t.clip_posts} posts; {t.submits} submits",
            f"each = {t.jobs}",
            "ok" if t.delivered == t.clip_posts == t.submits == t.jobs else "MISSED",
        ),
    ]
    return rows


def cluster_notes(r: ClusterResult) -> list[str]:
    """The statements the bots ran most, per configuration on PostgreSQL."""
    notes = []
    for b in r.bursts:
        if b.statements is None:
            continue
        notes.append(f"most frequent statements per job, {b.label}:")
        notes += [f"  {calls / b.jobs:5.1f}  {text}" for text, calls in b.statements.top]
    notes.append(f"most frequent statements, idle {r.idle.processes} processes:")
    notes += [f"  {calls:5d}  {text}" for text, calls in r.idle.statements.top]
    return notes


async def run(args: argparse.Namespace, workdir: Path) -> str:
    """Run the chosen workloads and return the report."""
    only = set(args.only.split(","))
    started = time.monotonic()
    rows: list[Row] = []
    notes: list[str] = []
    big: BigClipResult | None = None
    if "bigclip" in only:
        big = await big_clip(workdir / "bigclip", clip_mib=args.big_clip_mib)
    if "burst" in only:
        result = await burst(
            workdir / "burst",
            jobs=args.burst,
            scale=args.time_scale,
            clip_bytes=int(args.clip_mib * MiB),
            history_jobs=args.burst_history,
        )
        rows += burst_rows(result, args, big.cpu_per_mib_s if big else None)
    if "scale" in only:
        levels = [int(n) for n in args.scale_levels.split(",") if n]
        results = [
            await scale(
                workdir / f"scale-{n}",
                in_flight=n,
                scale=args.time_scale,
                window_s=args.scale_window,
            )
            for n in levels
        ]
        rows += scale_rows(results)
    if big is not None:
        rows += big_clip_rows(big)
    if "variations" in only:
        rows += variations_rows(
            await variations(
                workdir / "variations",
                groups=args.variations_groups,
                scale=args.time_scale,
                clip_bytes=int(args.clip_mib * MiB),
            )
        )
    if "history" in only:
        hist = await history(
            workdir / "history",
            jobs=args.history_jobs,
            users=args.history_users,
            guilds=args.history_guilds,
            samples=args.samples,
        )
        rows += history_rows(hist)
        notes.append(f"history built in {hist.build_s:.1f} s; query plans:")
        notes += [f"  {plan}" for plan in hist.usage_plans]
    if "media" in only:
        clip = ClipSpec(
            width=round(args.media_height * 16 / 9) // 2 * 2,
            height=args.media_height,
            seconds=args.media_seconds,
        )
        done = await asyncio.to_thread(media, workdir / "media", clip)
        rows += media_rows(done, clip)
        notes += [f"{r.operation} made: {r.output}" for r in done]
    if "cluster" in only:
        plan = cluster_plan(args)
        try:
            clustered = await cluster(workdir / "cluster", plan)
        except PostgresMissingError as exc:
            notes.append(f"cluster workload not run: {exc}")
        else:
            rows += cluster_rows(clustered, plan)
            notes += cluster_notes(clustered)
    elapsed = time.monotonic() - started
    return "\n".join(
        [
            f"machine: {machine()}",
            "settings: " + settings_line(args),
            "",
            table(rows),
            "",
            *notes,
            f"total bench time {elapsed:.0f} s",
        ]
    )


def settings_line(args: argparse.Namespace) -> str:
    """What the run used, including every bot setting the bench changes from its default."""
    s = args.time_scale
    return (
        f"time scale {s:g} (API estimate {60 * s:g}-{120 * s:g}s, completion uniform inside it; "
        f"POLL_INTERVAL_S={2 * s:g}, POLL_MAX_INTERVAL_S={10 * s:g}); "
        f"burst {args.burst} users x 1 job, MAX_JOBS_IN_FLIGHT={args.burst}, "
        f"{args.burst_history:,} finished jobs before it, "
        f"{args.clip_mib:g} MiB clips; scale levels {args.scale_levels} with "
        f"MAX_JOBS_IN_FLIGHT=level, JOB_TIMEOUT_S=3600, estimate "
        f"{args.scale_window / 4:g}-{args.scale_window / 2:g}s held, "
        f"{args.scale_window:g} s window; big clip {args.big_clip_mib} MiB with "
        f"premium tier 3, MAX_CLIP_BYTES raised; history {args.history_jobs:,} jobs / "
        f"{args.history_users:,} users / {args.history_guilds} servers, {args.samples} samples; "
        f"variations {args.variations_groups} x 4 then {args.variations_groups * 4} x 1 with "
        f"estimate {8 * s:g}-{16 * s:g}s, DEFAULT_USER_IN_FLIGHT_LIMIT=4, "
        "MAX_JOBS_IN_FLIGHT_PER_USER=4, MAX_JOBS_IN_FLIGHT=clips; "
        f"media clip {args.media_seconds:g} s {args.media_height}p 24 fps, each operation in "
        "a fresh process (peak RSS = its VmHWM, in brackets the rise over the process with "
        "PyAV loaded); "
        f"{cluster_settings(cluster_plan(args))}; everything else at the bot's defaults"
    )


def cluster_settings(plan: ClusterPlan) -> str:
    """The cluster workload's part of the settings line."""
    low, high = plan.estimate_s
    sqlite = " and 1 on SQLite" if plan.with_sqlite else ""
    return (
        f"cluster: burst {plan.jobs} users x 1 job over {SHARDS * GUILDS_PER_SHARD} servers on "
        f"{SHARDS} shards (SHARD_COUNT={SHARDS}), 3 processes (SHARD_IDS=0|1|2) on one "
        f"PostgreSQL, then 1 process with every shard on PostgreSQL{sqlite}, estimate "
        f"{low:g}-{high:g}s, MAX_JOBS_IN_FLIGHT={max(plan.jobs, plan.admission_requests)}, "
        f"after {plan.warmup} warm-up jobs (estimate 1-2s) on the same processes; "
        f"idle {plan.idle_s:g} s; admission {plan.admission_requests} at once with the API "
        f"holding every job, then SIGKILL of the process holding most; "
        f"JOB_LEASE_S={plan.lease_s:g}, JOB_POLL_S={plan.poll_s:g}"
        + ("" if plan.job_lease_s is None and plan.job_poll_s is None else " (set)")
        + " (PostgreSQL 15, fsync=off, pg_stat_statements)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    if args.workdir is not None:
        print(asyncio.run(run(args, args.workdir)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        print(asyncio.run(run(args, Path(tmp))))


if __name__ == "__main__":
    main()
