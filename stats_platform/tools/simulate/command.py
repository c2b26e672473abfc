"""The `stats-platform simulate` command: options in, a run, its summary out."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import psycopg
import typer

from stats_platform.settings import get_settings
from stats_platform.storage.api_keys import create_key
from stats_platform.storage.database import resolve_database_url
from stats_platform.storage.migrations import migrate
from stats_platform.tools.simulate.run import (
    Mode,
    SimulationConfig,
    model_config,
    now_ms,
    run_simulation,
)


def simulate_command(
    mode: Annotated[
        Mode, typer.Option(help="historical: backfill past days at full speed; live: real time")
    ] = "historical",
    days: Annotated[float, typer.Option(help="historical: days of traffic, ending now")] = 7.0,
    end: Annotated[
        str | None,
        typer.Option(
            help="historical: ISO-8601 end of the window instead of now (UTC unless an offset"
            " is given); with it the same seed sends exactly the same events"
        ),
    ] = None,
    rate: Annotated[float, typer.Option(help="live: events per second at the start")] = 50.0,
    duration: Annotated[
        float | None, typer.Option(help="live: seconds to run (default: until Ctrl-C)")
    ] = None,
    url: Annotated[str, typer.Option(help="the API's base URL")] = "http://127.0.0.1:8000",
    key: Annotated[
        str | None, typer.Option(help="an ingest key (none needed with STATS_AUTH=off)")
    ] = None,
    create_key_: Annotated[
        bool,
        typer.Option(
            "--create-key",
            help="create an all-guilds ingest key (and a read key) in the configured database",
        ),
    ] = False,
    guilds: Annotated[int, typer.Option(min=1, help="number of guilds")] = 20,
    members_per_guild: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="scale of guild sizes, about the median [default: 100; live: enough members"
            " to make --rate at ordinary activity]",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="the same seed and options send the same events")] = 1,
    tz: Annotated[str, typer.Option(help="IANA zone of the daily and weekly rhythm")] = "UTC",
    batch_size: Annotated[
        int, typer.Option(min=1, max=5000, help="events per batch, at most")
    ] = 500,
    gzip: Annotated[bool, typer.Option("--gzip", help="gzip request bodies")] = False,
    late_share: Annotated[
        float, typer.Option(min=0, max=1, help="share of batches held back minutes to hours")
    ] = 0.05,
    duplicate_share: Annotated[
        float, typer.Option(min=0, max=1, help="share of batches sent twice with the same ids")
    ] = 0.02,
    tally_json: Annotated[
        Path | None, typer.Option(help="write the simulator's own counts (per guild) as JSON")
    ] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Send realistic Discord traffic to POST /v1/events like a bot, and count what was stored."""
    settings = get_settings()
    # One line per request would bury the progress bar.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if create_key_:
        key = _create_keys()
    config = SimulationConfig(
        mode=mode,
        days=days,
        end_ms=None if end is None else _epoch_ms(end),
        rate=rate,
        duration=duration,
        guilds=guilds,
        members_per_guild=members_per_guild,
        seed=seed,
        tz=tz,
        url=url,
        key=key,
        gzip=gzip,
        batch_size=batch_size,
        late_share=late_share,
        duplicate_share=duplicate_share,
        raw_retention_days=settings.raw_retention_days,
        voice_session_cap_hours=settings.voice_session_cap_hours,
        progress=progress,
    )
    try:
        ZoneInfo(tz)
        model_config(config, now_ms())
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise typer.BadParameter(str(exc)) from None
    summary = run_simulation(config)
    typer.echo(summary.render())
    if tally_json is not None:
        tally_json.write_bytes(orjson.dumps(summary.tally.to_json(), option=orjson.OPT_INDENT_2))
        typer.echo(f"tally      {tally_json}")
    if summary.error:
        raise typer.Exit(1)


def _create_keys() -> str:
    """An all-guilds ingest key for this run, and a read key for looking at the result."""
    settings = get_settings()
    url = resolve_database_url(settings)
    migrate(url, timescaledb=settings.timescaledb)
    with psycopg.connect(url, autocommit=True) as conn:
        _, ingest = create_key(conn, scope="ingest", all_guilds=True, name="simulate")
        _, read = create_key(conn, scope="read", all_guilds=True, name="simulate (read)")
    typer.echo(f"ingest key {ingest}")
    typer.echo(f"read key   {read}")
    return ingest


def _epoch_ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"--end {text!r} is not an ISO-8601 date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
