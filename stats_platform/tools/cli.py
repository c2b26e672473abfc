"""`stats-platform`: the operator's command line."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from psycopg.conninfo import conninfo_to_dict

from stats_platform.logs import configure_logging
from stats_platform.settings import Settings, get_settings
from stats_platform.storage.api_keys import ApiKey, Scope, create_key, list_keys, revoke_key
from stats_platform.storage.backup import BackupError, backup, restore
from stats_platform.storage.database import resolve_database_url
from stats_platform.storage.migrations import LockPolicy, migrate
from stats_platform.tools.simulate.command import simulate_command

app = typer.Typer(
    help="Discord stats platform: database, keys, API, pipeline.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema, backup and restore.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.command("simulate")(simulate_command)

HostOption = Annotated[str, typer.Option(help="interface to listen on")]
PortOption = Annotated[int, typer.Option(help="port to listen on")]


@app.callback()
def _setup_logging(verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    configure_logging(
        json_logs=get_settings().log_json, level=logging.DEBUG if verbose else logging.INFO
    )


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations from sql/ (a no-op when up to date)."""
    settings = get_settings()
    url = resolve_database_url(settings)
    done = migrate(url, timescaledb=settings.timescaledb, locks=LockPolicy.from_settings(settings))
    typer.echo(
        f"applied {len(done)} migration(s): {', '.join(done)}" if done else "database is up to date"
    )


@db_app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="the backup to write (pg_dump custom format)")],
) -> None:
    """Back up the stats database to FILE with pg_dump -Fc."""
    try:
        backup(resolve_database_url(get_settings()), file)
    except BackupError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"backed up to {file}")


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="a backup written by `db backup`")],
) -> None:
    """Restore FILE into the configured database, which must be new or empty; then migrate."""
    settings = get_settings()
    url = resolve_database_url(settings)
    try:
        timescaledb = restore(url, file)
    except BackupError as exc:
        raise typer.BadParameter(str(exc)) from None
    done = migrate(url, timescaledb=settings.timescaledb, locks=LockPolicy.from_settings(settings))
    extension = " (TimescaleDB pre/post restore)" if timescaledb else ""
    typer.echo(f"restored {file} into {_where(url)}{extension}; {len(done)} newer migration(s)")


@keys_app.command("create")
def keys_create(
    scope: Annotated[Scope, typer.Option(help="ingest: send events; read: read stats")],
    guild: Annotated[
        list[str] | None, typer.Option("--guild", help="a guild the key may use (repeatable)")
    ] = None,
    all_guilds: Annotated[
        bool, typer.Option("--all-guilds", help="the key may use every guild")
    ] = False,
    name: Annotated[str | None, typer.Option(help="a label for people")] = None,
) -> None:
    """Create a key and print it. It is shown this once: only its hash is stored."""
    if all_guilds == bool(guild):
        raise typer.BadParameter("give --guild ID (one or more) or --all-guilds")
    with _connect() as conn:
        try:
            key, plaintext = create_key(
                conn, scope=scope, guild_ids=guild or (), all_guilds=all_guilds, name=name
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    typer.echo(plaintext)
    typer.echo(f"created {_describe(key)}; store it now, it cannot be shown again", err=True)


@keys_app.command("list")
def keys_list() -> None:
    """Every key: id, scope, guilds, name, created, and whether it is revoked."""
    with _connect() as conn:
        keys = list_keys(conn)
    for key in keys:
        typer.echo(_describe(key))
    if not keys:
        typer.echo(
            "no keys; create one with: stats-platform keys create --scope ingest --guild ID",
            err=True,
        )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key id, as `keys list` shows it")],
) -> None:
    """Revoke a key: it stops working at once."""
    with _connect() as conn:
        revoked = revoke_key(conn, key_id)
    if not revoked:
        typer.echo(f"no active key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


@app.command()
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    access_log: Annotated[bool, typer.Option(help="log each request")] = True,
) -> None:
    """Migrate, then serve the API."""
    settings = get_settings()
    _serve(_migrated_database(settings), host, port, access_log=access_log)


@app.command()
def up(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    dagster_port: Annotated[int, typer.Option(help="port of the Dagster UI")] = 3000,
) -> None:
    """Everything for local use: database (found or started), migrations, the API, Dagster UI and daemon."""
    from stats_platform.tools import launcher

    settings = get_settings()
    url = _migrated_database(settings)
    env = launcher.platform_environment(url)
    typer.echo(f"database:  {_where(url)}")
    typer.echo(f"API:       http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    typer.echo(
        f"Dagster:   http://{host}:{dagster_port}  (schedules and sensors run in the daemon)"
    )
    typer.echo("Ctrl-C stops everything.")
    raise typer.Exit(launcher.run_all(launcher.services(host, port, dagster_port), env))


@app.command()
def demo(
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="STATS_API_PORT", help="port of the API")] = 8000,
    dagster_port: Annotated[
        int, typer.Option(envvar="STATS_DAGSTER_PORT", help="port of the Dagster UI")
    ] = 3000,
    days: Annotated[
        float, typer.Option(envvar="STATS_DEMO_DAYS", min=0.01, help="days of simulated history")
    ] = 3.0,
    guilds: Annotated[
        int, typer.Option(envvar="STATS_DEMO_GUILDS", min=1, help="simulated guilds")
    ] = 5,
    rate: Annotated[float, typer.Option(min=0.1, help="live traffic, events per second")] = 5.0,
    seed: Annotated[int, typer.Option(help="the simulator's seed")] = 1,
) -> None:
    """`up` with sample data: keys, days of simulated history computed by Dagster, live traffic."""
    from stats_platform.tools.demo import DemoConfig, run_demo

    settings = get_settings()
    url = _migrated_database(settings)
    typer.echo(f"database:  {_where(url)}")
    config = DemoConfig(
        host=host,
        api_port=port,
        dagster_port=dagster_port,
        days=days,
        guilds=guilds,
        rate=rate,
        seed=seed,
    )
    raise typer.Exit(run_demo(config, url, settings, typer.echo))


@app.command("env")
def env_exports() -> None:
    """Print shell exports for running `dagster` commands against this platform: eval "$(stats-platform env)"."""
    import shlex

    from stats_platform.tools import launcher

    env = launcher.platform_environment(_migrated_database(get_settings()))
    for name in ("STATS_DATABASE_URL", "DAGSTER_HOME", "DAGSTER_PG_URL"):
        typer.echo(f"export {name}={shlex.quote(env[name])}")


def _serve(database_url: str, host: str, port: int, *, access_log: bool = True) -> None:
    import uvicorn

    from stats_platform.tools import launcher

    # The API is named, not imported: the platform's tools never import the HTTP service.
    os.environ["STATS_DATABASE_URL"] = database_url
    os.environ.update(launcher.metrics_environment())
    # log_config=None: uvicorn's loggers go through the platform's structured handler.
    uvicorn.run(
        "stats_api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=get_settings().api_workers,
        access_log=access_log,
        log_config=None,
        # stats_api.server.PROTOCOL: uvicorn's protocol with a deadline for request headers.
        http="stats_api.server:HeaderDeadlineProtocol",
    )


def _migrated_database(settings: Settings) -> str:
    url = resolve_database_url(settings)
    done = migrate(url, timescaledb=settings.timescaledb, locks=LockPolicy.from_settings(settings))
    if done:
        typer.echo(f"applied {len(done)} migration(s): {', '.join(done)}", err=True)
    return url


def _connect() -> psycopg.Connection:
    return psycopg.connect(_migrated_database(get_settings()), autocommit=True)


def _describe(key: ApiKey) -> str:
    guilds = "all guilds" if key.all_guilds else "guilds " + ",".join(key.guild_ids)
    state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
    label = f" {key.name!r}" if key.name else ""
    return f"{key.key_id}  {key.scope:<6}  {guilds}{label}  created {key.created_at:%Y-%m-%d %H:%M}  {state}"


def _where(url: str) -> str:
    """The database without its credentials, for printing."""
    params = conninfo_to_dict(url)
    return (
        f"{params.get('host', 'localhost')}:{params.get('port', '5432')}/{params.get('dbname', '')}"
    )


if __name__ == "__main__":
    app()
