"""Configuration from environment variables and an optional `.env` file."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.video.catalogue import DEFAULT_MODEL, MODELS, model_by_id

DEFAULT_DISCORD_API_URL = "https://discord.com/api/v10"
#: Our ceiling on prompt length (the API documents none); fits one Discord message.
PROMPT_MAX_CHARS = 2000


def default_process_name() -> str:
    """Host name and process id: unique among the live processes of a bot. A container
    restarted with the same host name (and pid 1 again) gets its previous run's name, and so
    takes that run's jobs back at once (`LeaseKeeper.jobs_to_resume`)."""
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseSettings):
    """Every knob the bot reads; each one is documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_parse_none_str="",  # an empty value means "none": no limit, no override
    )

    # Discord
    discord_token: SecretStr
    discord_api_url: str = DEFAULT_DISCORD_API_URL
    discord_gateway_url: str | None = None
    #: Attachments, their media proxy, and the proxy of images that embeds link to.
    discord_cdn_hosts: Annotated[frozenset[str], NoDecode] = frozenset(
        {
            "cdn.discordapp.com",
            "media.discordapp.net",
            "images-ext-1.discordapp.net",
            "images-ext-2.discordapp.net",
        }
    )

    #: Gateway shards (README "Sharding"): SHARD_COUNT alone runs all of them in this process,
    #: with SHARD_IDS only those; both absent: one unsharded connection.
    shard_count: int | None = Field(None, ge=1)
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = None

    # Video API
    vibedream_api_key: SecretStr
    vibedream_api_url: str = "https://api.vibedream.ai/api/v1"
    #: The video model that makes every clip unless a server's admins choose another (its id
    #: in the API); see `bot.video.catalogue`.
    vibedream_model: str = DEFAULT_MODEL.id
    #: The models server admins may choose from (empty: every model in the catalogue).
    vibedream_models: Annotated[tuple[str, ...], NoDecode] = ()
    #: How long a model the API called unknown or unavailable is refused without asking it.
    vibedream_model_retry_s: float = Field(3600.0, gt=0)
    vibedream_output_hosts: Annotated[frozenset[str], NoDecode] = frozenset({"assets.vibedream.ai"})
    vibedream_output_require_https: bool = True
    vibedream_output_ttl_hours: float = Field(24.0, gt=0)
    api_timeout_s: float = Field(30.0, gt=0)
    api_max_retries: int = Field(5, ge=0)
    api_backoff_max_s: float = Field(30.0, gt=0)

    # Storage
    database_url: str = "sqlite:///data/bot.db"
    download_dir: Path | None = None

    # Defaults for optional /animate settings: each must be one the model offers
    default_duration_s: int = Field(5, validate_default=True)
    default_resolution: str = Field("720p", validate_default=True)
    default_aspect_ratio: str = Field("auto", validate_default=True)
    default_camera_fixed: bool = False
    default_generate_audio: bool = False

    # Input limits
    prompt_max_chars: int = Field(1500, ge=1, le=PROMPT_MAX_CHARS)
    image_max_bytes: int = Field(30_000_000, gt=0)
    image_min_side_px: int = Field(300, gt=0)
    image_max_side_px: int = Field(6000, gt=0)
    image_min_aspect: float = Field(0.4, gt=0)
    image_max_aspect: float = Field(2.5, gt=0)

    # Scheduling
    max_jobs_in_flight: int = Field(10, ge=1)
    max_jobs_in_flight_per_user: int = Field(2, ge=1)
    max_jobs_queued_per_user: int = Field(5, ge=1)
    poll_interval_s: float = Field(2.0, gt=0)
    poll_max_interval_s: float = Field(10.0, gt=0)
    job_timeout_s: float = Field(900.0, gt=0)
    progress_edit_interval_s: float = Field(5.0, ge=0)
    max_clip_bytes: int = Field(200 * 1024 * 1024, gt=0)
    reencode_concurrency: int = Field(1, ge=0)
    reencode_timeout_s: float = Field(180.0, gt=0)
    gif_timeout_s: float = Field(120.0, gt=0)
    delivery_retries: int = Field(5, ge=0)
    delivery_retry_base_s: float = Field(2.0, gt=0)

    # Server limits until a server's admins set their own (empty = unlimited, 0 = blocked)
    default_user_daily_limit: int | None = Field(10, ge=0)
    default_user_monthly_limit: int | None = Field(100, ge=0)
    default_user_cooldown_s: int | None = Field(30, ge=0)
    default_user_in_flight_limit: int | None = Field(4, ge=0)
    default_guild_monthly_spend_usd: float | None = Field(50.0, ge=0)
    #: Reserved against the spending cap per job until the API reports its real cost, when no
    #: earlier job with the same settings shows what it costs.
    expected_cost_cents: int = Field(100, ge=0)

    # Several processes on one database (README, "Running several processes")
    #: This process's name in logs and job leases; unique among the live processes sharing a
    #: database. A process restarted under the same name takes its previous run's jobs back
    #: at once; a name no process runs under any more has its jobs taken once leases expire.
    process_name: str = Field(default_factory=default_process_name)
    #: How long a job stays its holder's without renewal (renewed every third of it): a dead
    #: process's jobs are taken over within this plus `JOB_POLL_S`.
    job_lease_s: float = Field(30.0, gt=0)
    #: How often a process looks for work without a hint: expired leases to take over, and
    #: queued jobs (the backstop to the wake-up hints).
    job_poll_s: float = Field(5.0, gt=0)

    # Data
    retention_days: int | None = Field(90, ge=1)

    # Operations
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    #: `text` for people, `json` for log collectors: one JSON object per line.
    log_format: Literal["text", "json"] = "text"
    #: Port of the health and metrics server (`/healthz`, `/metrics`); None: not served.
    metrics_port: int | None = Field(None, ge=1, le=65535)
    #: Address it listens on: loopback unless a scraper elsewhere must reach it.
    metrics_host: str = "127.0.0.1"
    #: Tries to reach Discord and open the database at start before giving up, and the
    #: longest wait between two of them.
    startup_attempts: int = Field(5, ge=1)
    startup_backoff_max_s: float = Field(30.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _blank_process_name_is_the_default(cls, data: object) -> object:
        # `PROCESS_NAME=` (as an .env template leaves it) means "not set", like other blanks.
        blank = isinstance(data, dict) and not str(data.get("process_name", "-") or "").strip()
        if blank:
            assert isinstance(data, dict)
            return {key: value for key, value in data.items() if key != "process_name"}
        return data

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_in_capitals(cls, value: object) -> object:
        # `info` and `INFO` alike, as logging itself reads them.
        return value.upper() if isinstance(value, str) else value

    @field_validator("vibedream_output_hosts", "discord_cdn_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(h.strip().lower() for h in value.split(",") if h.strip())
        return value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _split_shard_ids(cls, value: object) -> object:
        if isinstance(value, str):  # "0,1" -> (0, 1); every item must be a number
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("shard_ids")
    @classmethod
    def _shards_fit(
        cls, ids: tuple[int, ...] | None, info: ValidationInfo
    ) -> tuple[int, ...] | None:
        """SHARD_IDS needs SHARD_COUNT and names each of its shards at most once; kept in
        order, as Discord wants shards started (its rate-limit buckets go in order)."""
        if ids is None or "shard_count" not in info.data:  # (a bad SHARD_COUNT is said already)
            return ids
        count = info.data["shard_count"]
        if count is None:
            raise _shard_error("needs SHARD_COUNT, the bot's total number of shards")
        if not ids:
            raise _shard_error("names no shard: leave it out to run all of them")
        if outside := sorted({i for i in ids if not 0 <= i < count}):
            raise _shard_error(
                f"{', '.join(map(str, outside))} outside 0..{count - 1} (SHARD_COUNT is {count})"
            )
        if twice := sorted({i for i in ids if ids.count(i) > 1}):
            raise _shard_error(f"names shard {', '.join(map(str, twice))} more than once")
        return tuple(sorted(ids))

    @property
    def sharded(self) -> bool:
        """Whether the bot connects as gateway shards (SHARD_COUNT set)."""
        return self.shard_count is not None

    @field_validator("vibedream_model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if model_by_id(value).relaxed_content:  # its error names the known ids
            raise ValueError(
                f"{value} has relaxed content rules: servers may choose it, it cannot be the "
                "bot's default"
            )
        return value

    @field_validator("vibedream_models", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        if value is None:  # VIBEDREAM_MODELS= (empty): every model
            return ()
        if isinstance(value, str):
            return tuple(m.strip() for m in value.split(",") if m.strip())
        return value

    @field_validator("vibedream_models")
    @classmethod
    def _known_models(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for model_id in value:
            model_by_id(model_id)
        return value

    @field_validator("default_duration_s", "default_resolution", "default_aspect_ratio")
    @classmethod
    def _offered_by_a_model(cls, value: int | str, info: ValidationInfo) -> int | str:
        """Refuse a default no model offers (a typo), in pydantic's own words. A model that
        lacks it uses its own default instead (`bot.jobs.request.resolve_settings`)."""
        if isinstance(value, int):
            durations = sorted({d for m in MODELS.values() for d in m.options.durations_s})
            if value < durations[0]:
                raise PydanticCustomError(
                    "greater_than_equal",
                    "Input should be greater than or equal to {ge}",
                    {"ge": durations[0]},
                )
            if value > durations[-1]:
                raise PydanticCustomError(
                    "less_than_equal",
                    "Input should be less than or equal to {le}",
                    {"le": durations[-1]},
                )
            allowed: tuple[int | str, ...] = tuple(durations)
        elif info.field_name == "default_resolution":
            allowed = _every(m.options.resolutions for m in MODELS.values())
        else:
            allowed = _every(m.options.aspect_ratios for m in MODELS.values())
        if value not in allowed:
            *most, last = (repr(choice) for choice in allowed)
            expected = f"{', '.join(most)} or {last}" if most else last
            raise PydanticCustomError(
                "literal_error", "Input should be {expected}", {"expected": expected}
            )
        return value

    @property
    def database(self) -> DatabaseUrl:
        """`DATABASE_URL`, parsed; ValueError saying what a valid one looks like."""
        return DatabaseUrl.parse(self.database_url)

    @property
    def database_path(self) -> Path:
        """Filesystem path named by `DATABASE_URL` (`sqlite:///relative` or `sqlite:////absolute`);
        ValueError if it names a PostgreSQL database."""
        database = self.database
        if database.path is None:
            raise ValueError(f"DATABASE_URL names a PostgreSQL database ({database}), not a file")
        return database.path

    def output_expires_at(self, completed_at: datetime) -> datetime:
        """When the API's output URL of a clip made at `completed_at` stops working."""
        return completed_at + timedelta(hours=self.vibedream_output_ttl_hours)

    @property
    def uses_custom_discord(self) -> bool:
        """True when the bot talks to a Discord-compatible server other than Discord itself."""
        return self.discord_api_url.rstrip("/") != DEFAULT_DISCORD_API_URL

    @property
    def discord_file_hosts(self) -> frozenset[str]:
        """Hosts the bot reads Discord's files from: its CDN, and a Discord-compatible server
        (`DISCORD_API_URL`), which serves its own."""
        if not self.uses_custom_discord:
            return self.discord_cdn_hosts
        return self.discord_cdn_hosts | {urlsplit(self.discord_api_url).hostname or ""}


def _shard_error(message: str) -> PydanticCustomError:
    return PydanticCustomError("shard_ids", message)


_SQLITE_PREFIX = "sqlite:///"
_POSTGRESQL_SCHEMES = ("postgresql", "postgres")
#: What a valid DATABASE_URL looks like, for the error message.
DATABASE_URL_FORMS = (
    "sqlite:///path/to/bot.db, postgresql://USER:PASSWORD@HOST:5432/DBNAME or "
    "postgresql://USER@/DBNAME?host=/run/postgresql (a unix socket)"
)


@dataclass(frozen=True)
class DatabaseUrl:
    """`DATABASE_URL`: a SQLite file (`path`), or a PostgreSQL database (`path` None). Prints
    with its password masked: print or log it, never `url`."""

    url: str
    path: Path | None

    @classmethod
    def parse(cls, url: str) -> DatabaseUrl:
        """Check `url`'s form (without connecting); ValueError says what a valid one is."""
        if url.startswith(_SQLITE_PREFIX) and len(url) > len(_SQLITE_PREFIX):
            return cls(url, Path(url.removeprefix(_SQLITE_PREFIX)))
        parts = urlsplit(url)
        problem = None
        if parts.scheme not in _POSTGRESQL_SCHEMES:
            problem = "it is neither sqlite:/// nor postgresql://"
        elif not parts.path.strip("/"):
            problem = "it names no database (the part after the last /)"
        else:
            try:
                parts.port  # noqa: B018 - raises on a port that is not a number
            except ValueError:
                problem = "its port is not a number"
            query = dict(parse_qsl(parts.query))
            if not (parts.hostname or query.get("host")):
                problem = "it names no host (HOST, or ?host=/socket/folder)"
        if problem is not None:
            raise ValueError(
                f"DATABASE_URL ({mask_database_url(url)}) must look like {DATABASE_URL_FORMS}: "
                f"{problem}"
            )
        return cls(url, None)

    @property
    def is_postgresql(self) -> bool:
        """Whether it names a PostgreSQL database."""
        return self.path is None

    def __str__(self) -> str:
        return mask_database_url(self.url)

    def __repr__(self) -> str:
        return f"DatabaseUrl({mask_database_url(self.url)!r})"


def database_password(url: str) -> str | None:
    """The password `url` carries (in the user part or a `password=` parameter), if any."""
    parts = urlsplit(url)
    if parts.password:
        return unquote(parts.password)
    return dict(parse_qsl(parts.query)).get("password") or None


def mask_database_url(url: str) -> str:
    """`url` with its password (in the user part or a `password=` parameter) as `***`."""
    netloc = urlsplit(url).netloc
    user, at, _ = netloc.rpartition("@")
    if at and ":" in user:
        name = user.split(":", 1)[0]
        url = url.replace(f"//{netloc}", f"//{name}:***@{netloc.rpartition('@')[2]}", 1)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", url)


def _every(choices: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    """Every value of several models' choices, once each, in the order first seen."""
    return tuple(dict.fromkeys(value for values in choices for value in values))
