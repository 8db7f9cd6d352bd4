"""A real PostgreSQL server for the tests: Debian's `postgresql-15` (or any
`/usr/lib/postgresql/N/bin`, or `PG_BIN`), started in a private temporary folder, reached
through a unix socket in it, stopped and removed at the end.

`initdb` and `postgres` refuse to run as root, so as root they run as the `postgres` user the
Debian package creates. The folder is made with `mkdtemp` in the system's temporary folder,
not under pytest's (mode 0700, which that user cannot enter), and its path is kept short: a
socket path may hold at most 107 bytes. Research note `scale-out.md` §4.3 has the timings.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: How long a start may take before the server is taken for broken.
_START_TIMEOUT_S = 30.0


class PostgresMissingError(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def binaries() -> Path:
    """The folder of `postgres`, `initdb` and `pg_isready`: `PG_BIN`, else the newest
    `/usr/lib/postgresql/N/bin`; PostgresMissingError if there is none."""
    if configured := os.environ.get("PG_BIN"):
        if not (Path(configured) / "postgres").is_file():
            raise PostgresMissingError(f"PG_BIN={configured} holds no postgres program")
        return Path(configured)
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/postgres")]
    if not found:
        raise PostgresMissingError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres; on Debian: "
            "apt-get install postgresql-15, or set PG_BIN)"
        )
    return max(found, key=lambda folder: int(folder.parent.name))


class PostgresServer:
    """One throw-away PostgreSQL server; `url(database)` names a database on it.

    `settings` are extra server settings (`-c name=value`), e.g. the benchmark's
    `{"shared_preload_libraries": "pg_stat_statements"}`.
    """

    def __init__(self, settings: Mapping[str, str] | None = None) -> None:
        self._bin = binaries()
        self._settings = dict(settings or {})
        self.root = Path(tempfile.mkdtemp(prefix="pg-"))
        self.port = 5432  # only names the socket file: the server listens on no TCP port
        self._process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self._as_user: dict[str, Any] = {}
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_user = {"user": "postgres", "group": user.pw_gid}

    @property
    def log_path(self) -> Path:
        """The server's own log."""
        return self.root / "server.log"

    def start(self) -> None:
        """initdb a fresh cluster and start the server; returns once it accepts connections."""
        data = self.root / "data"
        subprocess.run(
            [
                *(self._bin / "initdb", "-D", data, "-U", "postgres", "-A", "trust"),
                *("--no-sync", "-E", "UTF8", "--locale=C.UTF-8"),
            ],
            check=True,
            capture_output=True,
            **self._as_user,
        )
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    *(self._bin / "postgres", "-D", data, "-k", self.root, "-p", str(self.port)),
                    *("-c", "listen_addresses=", "-c", "max_connections=300"),
                    # A test database holds nothing worth a disk flush.
                    *("-c", "fsync=off", "-c", "synchronous_commit=off"),
                    *("-c", "full_page_writes=off"),
                    *(arg for k, v in self._settings.items() for arg in ("-c", f"{k}={v}")),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                **self._as_user,
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while self._ready_check().returncode != 0:
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start:\n{self.log_path.read_text()}")
            time.sleep(0.02)

    @property
    def pid(self) -> int:
        """The postmaster's process id (its backends are its children)."""
        if self._process is None:
            raise RuntimeError("the server has not been started")
        return self._process.pid

    def _ready_check(self) -> subprocess.CompletedProcess[bytes]:
        command = [self._bin / "pg_isready", "-q", "-h", self.root, "-p", str(self.port)]
        return subprocess.run(command, check=False)

    def url(self, database: str = "postgres") -> str:
        """`postgresql://` URL of a database on this server (over its unix socket)."""
        return f"postgresql://postgres@/{database}?host={self.root}&port={self.port}"

    def new_database_name(self, prefix: str = "t") -> str:
        """A database name not used before on this server."""
        return f"{prefix}_{next(self._names)}"

    def psql(self, database: str, sql: str) -> str:
        """Run `sql` with psql on `database`; its unaligned output."""
        psql = self._bin / "psql"
        found = subprocess.run(
            [
                *(psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql),
                *("-h", str(self.root), "-p", str(self.port), "-U", "postgres", "-d", database),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return found.stdout

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then remove the folder."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
