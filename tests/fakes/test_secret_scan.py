"""The suite-wide secret scan finds what it is meant to find (so its silence means something)."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

from tests.fakes.discord import RecordedFile
from tests.fakes.secret_scan import SCAN, ScanningHandler, SecretScan

TOKEN = "a-very-secret-bot-token"


def body(json: object = None, query: dict[str, str] | None = None, head: bytes = b"") -> object:
    files = [RecordedFile("files[0]", "a.mp4", len(head), "", head)] if head else []
    return SimpleNamespace(method="POST", path="/x", json=json, query=query or {}, files=files)


def test_a_secret_in_a_log_file_is_found_without_being_repeated(tmp_path: Path) -> None:
    scan = SecretScan()
    scan.add_secret("DISCORD_TOKEN", TOKEN)
    log = tmp_path / "bot-0.log"
    log.write_text(f"INFO starting\nDEBUG Authorization: Bot {TOKEN}\n", encoding="utf-8")

    scan.scan_log_file(log)

    (leak,) = scan.leaks
    assert (leak.source, leak.secret_name) == ("log bot-0.log", "DISCORD_TOKEN")
    assert TOKEN not in scan.report()
    assert scan.log_lines == 2


def test_secrets_in_bodies_queries_and_files_are_found() -> None:
    scan = SecretScan()
    scan.add_secret("KEY", TOKEN)

    scan.scan_bodies(
        "fake",
        [
            body(json={"content": f"key={TOKEN}"}),
            body(query={"k": TOKEN}),
            body(head=TOKEN.encode()),
            body(json={"content": "harmless"}),
        ],
    )

    assert len(scan.leaks) == 3
    assert scan.messages == 4


def test_short_values_are_not_watched_as_they_would_match_by_accident() -> None:
    scan = SecretScan()
    scan.add_secret("DISCORD_TOKEN", "x")

    scan.scan_text("log", "x marks the spot")

    assert scan.leaks == []


def test_in_process_log_records_are_scanned_with_their_tracebacks() -> None:
    scan = SecretScan()
    scan.add_secret("KEY", TOKEN)
    logger = logging.getLogger("tests.secret_scan_probe")
    handler = ScanningHandler(scan)
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"bad key {TOKEN}")
        except RuntimeError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)

    assert [leak.secret_name for leak in scan.leaks] == ["KEY"]


def test_the_session_scan_watches_our_own_loggers() -> None:
    logging.getLogger("bot.probe").debug("a harmless line")

    assert SCAN.log_lines > 0
