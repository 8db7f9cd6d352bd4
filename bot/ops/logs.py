"""Logging for people (text, the default) or machines (`LOG_FORMAT=json`: one JSON object per
line), and never a secret in either: the token and the key are masked in every line."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from bot.settings import Settings, database_password

TEXT_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
#: With the process's name (`PROCESS_NAME`), so the lines of several processes can be told apart.
NAMED_TEXT_FORMAT = "%(asctime)s [%(process_name)s] %(levelname)-8s %(name)s: %(message)s"
MASK = "[secret]"
#: Shorter values are not real tokens or keys (Discord tokens run to some 70 characters).
_MIN_SECRET_CHARS = 8
#: The engine starts every line about a job with "job <id>:".
_JOB_LINE = re.compile(r"^job (\d+)\b")


def job_id_of(record: logging.LogRecord, message: str) -> int | None:
    """The job a line is about: `extra={"job_id": ...}`, else its "job <id>:" opening."""
    given = getattr(record, "job_id", None)
    if isinstance(given, int):
        return given
    match = _JOB_LINE.match(message)
    return int(match.group(1)) if match else None


class _Masking(logging.Formatter):
    """Replaces every secret value in what the formatter produced."""

    def __init__(self, secrets: Iterable[str], fmt: str | None = None) -> None:
        super().__init__(fmt)
        # Longest first, so a secret that contains another is masked whole.
        # Placeholders of a few characters (a test's `x`) would garble every line instead.
        self._secrets = sorted(
            {s for s in secrets if len(s) >= _MIN_SECRET_CHARS}, key=len, reverse=True
        )

    def mask(self, text: str) -> str:
        """`text` with every secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


class ProcessName(logging.Filter):
    """Puts the process's name (`PROCESS_NAME`) on every record as `process_name`: with several
    processes on one database, each job line says which one wrote it."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, named."""
        record.process_name = self._name
        return True


class TextFormatter(_Masking):
    """`time [process] LEVEL logger: message` (the process when named), tracebacks below."""

    def __init__(self, secrets: Iterable[str], process_name: str | None = None) -> None:
        super().__init__(secrets, TEXT_FORMAT if process_name is None else NAMED_TEXT_FORMAT)
        self._process = None if process_name is None else ProcessName(process_name)

    def format(self, record: logging.LogRecord) -> str:
        """The line, masked."""
        if self._process is not None:
            self._process.filter(record)
        return self.mask(super().format(record))


class JsonFormatter(_Masking):
    """One JSON object per line: time, level, process (when named), logger, message, job_id
    (when the line is about a job), and exception (a traceback, as one string) when there is
    one."""

    def __init__(self, secrets: Iterable[str], process_name: str | None = None) -> None:
        super().__init__(secrets)
        self._process_name = process_name

    def format(self, record: logging.LogRecord) -> str:
        """The object, masked."""
        message = record.getMessage()
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
        }
        if self._process_name is not None:
            entry["process"] = self._process_name
        entry |= {"logger": record.name, "message": self.mask(message)}
        if (job_id := job_id_of(record, message)) is not None:
            entry["job_id"] = job_id
        if record.exc_info:
            entry["exception"] = self.mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class ShortReconnects(logging.Filter):
    """discord.py logs each failed gateway reconnect with a full traceback; the reason alone
    says as much (the connection was refused, the name did not resolve) in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, its exception shortened to one line."""
        if (
            record.name == "discord.client"
            and record.exc_info
            and record.exc_info[1]
            # Only the reconnect line: other exceptions it logs (a handler's bug) keep theirs.
            and str(record.msg).startswith("Attempting a reconnect")
        ):
            reason = record.exc_info[1]
            record.msg = f"{record.getMessage()} after: {type(reason).__name__}: {reason}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def secrets_of(settings: Settings) -> list[str]:
    """The setting values no log line may show."""
    found = [
        settings.discord_token.get_secret_value(),
        settings.vibedream_api_key.get_secret_value(),
    ]
    if password := database_password(settings.database_url):
        found.append(password)
    return found


def setup_logging(settings: Settings) -> None:
    """Send every logger's records to stderr in `LOG_FORMAT`, at `LOG_LEVEL`."""
    formatter: logging.Formatter
    if settings.log_format == "json":
        formatter = JsonFormatter(secrets_of(settings), settings.process_name)
    else:
        formatter = TextFormatter(secrets_of(settings), settings.process_name)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(ShortReconnects())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    # On the handler too: the metrics may lower a library logger's own level to count its
    # warnings (`PrometheusMetrics.watch_rate_limits`); what is printed stays at LOG_LEVEL.
    handler.setLevel(settings.log_level)
    root.setLevel(settings.log_level)
