"""Finding the database: the configured one, a local server, or an embedded one as a last resort."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from time import monotonic

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from stats_platform.settings import DEFAULT_DATABASE_URL, Settings

log = logging.getLogger("stats.database")


class DatabaseMissing(SystemExit):
    """The configured database does not exist: one line for the operator, no traceback.

    A SystemExit, so every command of the CLI (and `uvicorn --factory`) ends with the message alone.
    """

    def __init__(self, url: str) -> None:
        params = conninfo_to_dict(url)
        dbname, host, port = params.get("dbname"), params.get("host"), params.get("port", "5432")
        super().__init__(
            f"STATS_DATABASE_URL names database {dbname!r}, which does not exist on {host}:{port}:"
            f" create it (CREATE DATABASE {dbname}, or createdb), then run `stats-platform db"
            " migrate`; or unset STATS_DATABASE_URL to use the local default"
        )


def resolve_database_url(settings: Settings) -> str:
    """The URL every process uses; creates the default database and starts the embedded server when needed."""
    if settings.database_url:
        _require_database(settings.database_url)
        return settings.database_url
    if server_answers(DEFAULT_DATABASE_URL):
        create_database_if_missing(DEFAULT_DATABASE_URL)
        return DEFAULT_DATABASE_URL
    url = _embedded_server_url(str(settings.data_dir / "postgres"))
    log.warning("no PostgreSQL answered on 127.0.0.1:5432; started an embedded server: %s", url)
    create_database_if_missing(url)
    return url


class SweepingPool(ConnectionPool):
    """A pool that, when the connection it hands out is broken, checks every idle one at once.

    psycopg_pool's own `check=` retries one connection per backoff step (1 s, 2 s, 4 s ...), so
    after a server restart a request behind ten dead idle connections waits past its timeout.
    Here the first broken one costs one failed ping; the sweep drops the others together and
    the pool reconnects them in the background.
    """

    def getconn(self, timeout: float | None = None) -> psycopg.Connection:
        deadline = monotonic() + (self.timeout if timeout is None else timeout)
        conn = super().getconn(timeout)
        try:
            self.check_connection(conn)
        except psycopg.Error:
            self.putconn(conn)
            self.check()
            conn = super().getconn(max(deadline - monotonic(), 0.01))
        return conn


def open_pool(
    url: str, *, max_size: int, timeout: float, name: str = "stats-api"
) -> ConnectionPool:
    """A pool of autocommit connections; callers open a transaction where they need one.

    It opens in the background, so the API starts (and /readyz can say why it is not ready)
    while the database is still unreachable. Connections are checked on checkout (SweepingPool).
    """
    return SweepingPool(
        url,
        kwargs={"autocommit": True},
        min_size=1,
        max_size=max_size,
        timeout=timeout,
        name=name,
        open=False,
    )


def server_answers(url: str) -> bool:
    try:
        with psycopg.connect(_with_dbname(url, "postgres"), connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _require_database(url: str) -> None:
    """DatabaseMissing when the server answers that the database does not exist.

    An unreachable server is not refused here: the API starts anyway and /readyz says why.
    """
    try:
        with psycopg.connect(url, connect_timeout=3):
            return
    except psycopg.OperationalError as exc:
        dbname = conninfo_to_dict(url).get("dbname")
        if f'database "{dbname}" does not exist' in str(exc):
            raise DatabaseMissing(url) from None


def create_database_if_missing(url: str) -> None:
    dbname = str(conninfo_to_dict(url)["dbname"])
    with psycopg.connect(_with_dbname(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            log.info("created database %s", dbname)


def drop_database(url: str) -> None:
    dbname = str(conninfo_to_dict(url)["dbname"])
    with psycopg.connect(_with_dbname(url, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )


def with_database(url: str, dbname: str) -> str:
    """The same server and credentials, another database, as a postgresql:// URL."""
    params = conninfo_to_dict(url)
    user = params.get("user", "postgres")
    password = f":{params['password']}" if params.get("password") else ""
    host = str(params.get("host", "127.0.0.1"))
    port = params.get("port", "5432")
    if host.startswith("/"):
        return f"postgresql://{user}{password}@/{dbname}?host={host}&port={port}"
    return f"postgresql://{user}{password}@{host}:{port}/{dbname}"


def _with_dbname(url: str, dbname: str) -> str:
    return make_conninfo(url, dbname=dbname)


@lru_cache(maxsize=1)
def _embedded_server_url(pgdata: str) -> str:
    import pgserver

    # pgserver creates the data folder but not its parent (.data/ on a fresh clone).
    Path(pgdata).parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None keeps the server up for the other processes of `stats-platform up`.
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    return with_database(server.get_uri(), "stats")
