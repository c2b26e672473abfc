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

ModeOpt = Annotated[
    Mode, typer.Option(help="historical: backfill past days at full speed; live: real time")
]
DaysOpt = Annotated[float, typer.Option(help="historical: days of traffic, ending now")]
EndOpt = Annotated[
    str | None,
    typer.Option(
        help="historical: ISO-8601 end of the window instead of now (UTC unless an offset"
        " is given); with it the same seed sends exactly the same events"
    ),
]
RateOpt = Annotated[float, typer.Option(help="live: events per second at the start")]
DurationOpt = Annotated[
    float | None, typer.Option(help="live: seconds to run (default: until Ctrl-C)")
]
UrlOpt = Annotated[str, typer.Option(help="the API's base URL")]
KeyOpt = Annotated[str | None, typer.Option(help="an ingest key (none needed with STATS_AUTH=off)")]
CreateKeyOpt = Annotated[
    bool,
    typer.Option(
        "--create-key",
        help="create an all-guilds ingest key (and a read key) in the configured database",
    ),
]
GuildsOpt = Annotated[int, typer.Option(min=1, help="number of guilds")]
MembersOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="scale of guild sizes, about the median [default: 100; live: enough members"
        " to make --rate at ordinary activity]",
    ),
]
SeedOpt = Annotated[int, typer.Option(help="the same seed and options send the same events")]
TzOpt = Annotated[str, typer.Option(help="IANA zone of the daily and weekly rhythm")]
BatchOpt = Annotated[int, typer.Option(min=1, max=5000, help="events per batch, at most")]
GzipOpt = Annotated[bool, typer.Option("--gzip", help="gzip request bodies")]
LateOpt = Annotated[
    float, typer.Option(min=0, max=1, help="share of batches held back minutes to hours")
]
DuplicateOpt = Annotated[
    float, typer.Option(min=0, max=1, help="share of batches sent twice with the same ids")
]
TallyOpt = Annotated[
    Path | None, typer.Option(help="write the simulator's own counts (per guild) as JSON")
]
ProgressOpt = Annotated[bool, typer.Option(help="show a progress bar")]


def simulate_command(
    mode: ModeOpt = "historical",
    days: DaysOpt = 7.0,
    end: EndOpt = None,
    rate: RateOpt = 50.0,
    duration: DurationOpt = None,
    url: UrlOpt = "http://127.0.0.1:8000",
    key: KeyOpt = None,
    create_key_: CreateKeyOpt = False,
    guilds: GuildsOpt = 20,
    members_per_guild: MembersOpt = None,
    seed: SeedOpt = 1,
    tz: TzOpt = "UTC",
    batch_size: BatchOpt = 500,
    gzip: GzipOpt = False,
    late_share: LateOpt = 0.05,
    duplicate_share: DuplicateOpt = 0.02,
    tally_json: TallyOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Send realistic Discord traffic to POST /v1/events like a bot, and count what was stored."""
    settings = get_settings()
    # One line per request would bury the progress bar.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    config = SimulationConfig(
        mode=mode, days=days, end_ms=None if end is None else _epoch_ms(end), rate=rate,
        duration=duration, guilds=guilds, members_per_guild=members_per_guild, seed=seed, tz=tz,
        url=url, key=_create_keys() if create_key_ else key, gzip=gzip, batch_size=batch_size,
        late_share=late_share, duplicate_share=duplicate_share,
        raw_retention_days=settings.raw_retention_days,
        voice_session_cap_hours=settings.voice_session_cap_hours, progress=progress,
    )  # fmt: skip
    _check(config)
    _run(config, tally_json)


def _check(config: SimulationConfig) -> None:
    try:
        ZoneInfo(config.tz)
        model_config(config, now_ms())
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise typer.BadParameter(str(exc)) from None


def _run(config: SimulationConfig, tally_json: Path | None) -> None:
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
