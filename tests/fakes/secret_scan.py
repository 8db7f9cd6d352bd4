"""Suite-wide leak check: no secret value in any log line or any message the bot sent.

Fixtures feed it as the suite runs (every bot process's log file, every request body the fake
Discord and the fake video API received, every record our own loggers emit in-process); the
session fixture in `tests/conftest.py` fails the run if a secret showed up anywhere.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Shorter values would match by accident (the unit tests use tokens like "x").
MIN_SECRET_LENGTH = 8


@dataclass
class Leak:
    """One place a secret was found (the secret itself is never repeated here)."""

    source: str
    secret_name: str
    excerpt: str


@dataclass
class SecretScan:
    """Collects secrets and scans texts for them; `leaks` lists what was found."""

    secrets: dict[str, str] = field(default_factory=dict)  # value -> name
    leaks: list[Leak] = field(default_factory=list)
    log_lines: int = 0
    messages: int = 0

    def add_secret(self, name: str, value: str) -> None:
        """Watch for `value` from now on (and in everything scanned later)."""
        if len(value) >= MIN_SECRET_LENGTH:
            self.secrets[value] = name

    def scan_text(self, source: str, text: str) -> None:
        """Record a leak for each secret that occurs in `text`."""
        for value, name in self.secrets.items():
            at = text.find(value)
            if at >= 0:
                excerpt = text[max(0, at - 40) : at].replace("\n", " ") + "<SECRET>"
                self.leaks.append(Leak(source, name, excerpt))

    def scan_log_file(self, path: Path) -> None:
        """Scan every line of a log file."""
        text = path.read_text(encoding="utf-8", errors="replace")
        self.log_lines += text.count("\n")
        self.scan_text(f"log {path.name}", text)

    def scan_bodies(self, source: str, requests: list[Any]) -> None:
        """Scan what a fake server received: JSON bodies, query strings and file heads."""
        for request in requests:
            self.messages += 1
            parts = [json.dumps(getattr(request, "json", None), ensure_ascii=False)]
            parts.append(json.dumps(getattr(request, "query", {}), ensure_ascii=False))
            parts.extend(f.head.decode("latin-1") for f in getattr(request, "files", []))
            self.scan_text(f"{source} {request.method} {request.path}", "\n".join(parts))

    def report(self) -> str:
        """What leaked where, one line each."""
        return "\n".join(
            f"{leak.secret_name} in {leak.source}: …{leak.excerpt}" for leak in self.leaks
        )


class ScanningHandler(logging.Handler):
    """Feeds every record our own loggers emit in the test process into a scan."""

    def __init__(self, scan: SecretScan) -> None:
        super().__init__(logging.DEBUG)
        self._scan = scan
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a broken record must not break the test that logged it
            return
        self._scan.log_lines += 1
        self._scan.scan_text(f"in-process log {record.name}", text)


#: The one scan of this test session.
SCAN = SecretScan()
