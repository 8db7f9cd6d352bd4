"""The suite's own PostgreSQL server: where its programs are found, and a start and stop that
leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.postgres_server import PostgresMissingError, PostgresServer, binaries


def test_a_pg_bin_without_postgres_in_it_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PG_BIN", str(tmp_path))

    with pytest.raises(PostgresMissingError, match="holds no postgres program"):
        binaries()


def test_a_server_answers_and_leaves_no_folder_behind(postgres_server: PostgresServer) -> None:
    # Requesting the session's server proves PostgreSQL is installed; start a second one.
    with PostgresServer() as server:
        assert server.psql("postgres", "SELECT 40 + 2").strip() == "42"
        root = server.root
    assert not root.exists()


def test_settings_given_reach_the_server(postgres_server: PostgresServer) -> None:
    with PostgresServer({"shared_preload_libraries": "pg_stat_statements"}) as server:
        loaded = server.psql("postgres", "SHOW shared_preload_libraries").strip()
        server.psql("postgres", "CREATE EXTENSION pg_stat_statements")
        counted = server.psql("postgres", "SELECT count(*) > 0 FROM pg_stat_statements").strip()

    assert (loaded, counted) == ("pg_stat_statements", "t")
