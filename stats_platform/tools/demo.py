"""`stats-platform demo`: the whole platform, with days of simulated history and live traffic.

In order: an ingest key for the simulator and a read key for you (auth stays on); the API, the
Dagster webserver and daemon (`launcher`); the history, sent through POST /v1/events like a
bot's backfill; live traffic from then on; and the history's closed windows computed as one
single-run backfill per grain (`dagster asset materialize --partition-range`, recorded in the
Dagster instance, so the UI shows the runs). Until a window is computed the API answers it from
the raw events, exactly, so the URLs work as soon as they are printed. Ctrl-C or SIGTERM stops
everything. The services' output goes to `.data/logs/`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

from stats_platform.domain.grains import COARSE_TO_FINE, Grain
from stats_platform.domain.instants import floor_to
from stats_platform.settings import Settings
from stats_platform.storage.api_keys import create_key
from stats_platform.tools import launcher
from stats_platform.tools.simulate import GuildTally, SimulationConfig, Summary, run_simulation
from stats_platform.tools.simulate.run import model_config, now_ms

Echo = Callable[[str], None]

# The history is one bot's backfill, sent as fast as the API takes it: more requests a minute
# than an ordinary bot key is allowed. Used only when STATS_RATE_LIMIT_PER_MINUTE is not set.
DEMO_RATE_LIMIT_PER_MINUTE = 20_000
READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class DemoConfig:
    host: str = "127.0.0.1"
    api_port: int = 8000
    dagster_port: int = 3000
    days: float = 3.0
    guilds: int = 5
    members_per_guild: int = 100
    seed: int = 1
    rate: float = 5.0

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def dagster_url(self) -> str:
        return f"http://{self.host}:{self.dagster_port}"


def run_demo(config: DemoConfig, database_url: str, settings: Settings, echo: Echo) -> int:
    """Runs until interrupted; 0 when stopped by Ctrl-C or SIGTERM, 1 when something failed."""
    # One line per request would bury what the demo says.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        history_config = _history_config(config, settings)
    except ValueError as exc:
        echo(f"demo refused: {exc}")
        return 1
    ingest_key, read_key = _create_keys(database_url)
    env = launcher.platform_environment(database_url)
    env.setdefault("STATS_RATE_LIMIT_PER_MINUTE", str(DEMO_RATE_LIMIT_PER_MINUTE))
    logs = settings.data_dir / "logs"
    backfills = Backfills(logs, echo)
    supervisor = launcher.Supervisor(env, on_finished=backfills.finished)
    with launcher.stop_on_signals():
        try:
            for service in launcher.services(
                config.host, config.api_port, config.dagster_port, access_log=False
            ):
                supervisor.start(service, log=logs / f"{service.name}.log")
            echo(f"starting the API and Dagster; their output goes to {logs}/")
            _wait_for(f"{config.api_url}/readyz", supervisor)
            history = _send_history(replace(history_config, key=ingest_key), echo)
            settled_at = time.monotonic() + settings.settle_seconds
            supervisor.start(_live_traffic(config, ingest_key), log=logs / "live-traffic.log")
            _wait_for(f"{config.dagster_url}/server_info", supervisor)
            echo(_welcome(config, history, read_key, logs))
            # A run starting sooner would leave the history's last arrivals to the late-data sensor.
            supervisor.wait(max(0.0, settled_at - time.monotonic()))
            backfills.start(supervisor, history)
            supervisor.wait()
        except KeyboardInterrupt:
            echo("stopping ...")
            return 0
        except (launcher.ServiceExited, DemoFailed) as exc:
            echo(f"demo failed: {exc}; stopping ...")
            return 1
        finally:
            supervisor.stop()
    return 0


class DemoFailed(RuntimeError):
    pass


def _create_keys(database_url: str) -> tuple[str, str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        _, ingest = create_key(conn, scope="ingest", all_guilds=True, name="demo simulator")
        _, read = create_key(conn, scope="read", all_guilds=True, name="demo reader")
    return ingest, read


def _wait_for(url: str, supervisor: launcher.Supervisor) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        supervisor.check()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise DemoFailed(f"{url} did not answer 200 within {READY_TIMEOUT_S:.0f} s")
        time.sleep(0.3)


def _history_config(config: DemoConfig, settings: Settings) -> SimulationConfig:
    """The history ending now; refused here (ValueError) when the API would refuse its events."""
    history = SimulationConfig(
        mode="historical",
        days=config.days,
        end_ms=now_ms(),
        guilds=config.guilds,
        members_per_guild=config.members_per_guild,
        seed=config.seed,
        url=config.api_url,
        raw_retention_days=settings.raw_retention_days,
        voice_session_cap_hours=settings.voice_session_cap_hours,
        progress=sys.stderr.isatty(),
    )
    model_config(history, now_ms())
    return history


def _send_history(history: SimulationConfig, echo: Echo) -> Summary:
    days = f"{history.days:g} day" + ("" if history.days == 1 else "s")
    echo(f"sending {days} of history for {history.guilds} guilds to {history.url}")
    summary = run_simulation(replace(history, end_ms=now_ms()))
    if summary.interrupted:
        raise KeyboardInterrupt
    if summary.error:
        raise DemoFailed(f"the simulator stopped: {summary.error}")
    if not summary.tally.guilds:
        raise DemoFailed("the history holds no events; give more --days")
    echo(
        f"history: {summary.accepted:,} events stored ({summary.duplicates:,} duplicate re-sends"
        f" answered as such) in {summary.elapsed_s:.1f} s"
    )
    return summary


class Backfills:
    """One single-run backfill per grain over the history's closed windows, run side by side."""

    def __init__(self, logs: Path, echo: Echo) -> None:
        self.logs = logs
        self.echo = echo
        self.started: dict[str, float] = {}

    def start(self, supervisor: launcher.Supervisor, history: Summary) -> None:
        window_end = history.tally.window_end_ms
        assert window_end is not None
        start, end = _instant(history.tally.window_start_ms), _instant(window_end)
        for grain in COARSE_TO_FINE:
            first, last = _closed_windows(start, end, grain.length)
            if last < first:
                continue
            fmt = grain.partition_format
            span = f"{first.strftime(fmt)}...{last.strftime(fmt)}"
            service = _materialize(grain, span)
            supervisor.start(service, log=self.logs / f"{service.name}.log", job=True)
            self.started[service.name] = time.monotonic()
            self.echo(f"{service.name} {span}: started (one run; see the Dagster UI)")

    def finished(self, name: str, returncode: int) -> None:
        took = time.monotonic() - self.started.pop(name)
        if returncode != 0:
            raise DemoFailed(f"{name} failed after {took:.0f} s; see {self.logs}/{name}.log")
        self.echo(f"{name}: done in {took:.0f} s")


def _closed_windows(start: datetime, end: datetime, step: timedelta) -> tuple[datetime, datetime]:
    """Starts of the first window holding `start` and of the last window ending by `end`."""
    return floor_to(start, step), floor_to(end, step) - step


def _materialize(grain: Grain, span: str) -> launcher.Service:
    # In process: one step per grain, so a process per step would only add start-up time.
    run_config: dict[str, object] = {"execution": {"config": {"in_process": {}}}}
    command = [
        str(launcher.BIN / "dagster"),
        "asset",
        "materialize",
        "-m",
        "stats_platform.definitions",
        "--select",
        ",".join(grain.job_assets),
        "--partition-range",
        span,
        "--config-json",
        json.dumps(run_config),
    ]
    return launcher.Service(f"backfill-{grain.name}", command)


def _live_traffic(config: DemoConfig, key: str) -> launcher.Service:
    """The same guilds and members as the history, at about `rate` events/s from now on."""
    command = [
        str(launcher.BIN / "stats-platform"),
        "simulate",
        "--mode", "live",
        "--rate", str(config.rate),
        "--guilds", str(config.guilds),
        "--members-per-guild", str(config.members_per_guild),
        "--seed", str(config.seed),
        "--url", config.api_url,
        "--key", key,
        "--no-progress",
    ]  # fmt: skip
    return launcher.Service("live-traffic", command)


def _welcome(config: DemoConfig, history: Summary, read_key: str, logs: Path) -> str:
    guild = _biggest(history)
    base = f"{config.api_url}/v1/guilds/{guild.guild_id}/stats"
    auth = f"-H 'Authorization: Bearer {read_key}'"
    return "\n".join(
        [
            "",
            f"The platform is up, with history and live traffic (~{config.rate:g} events/s).",
            f"  Dagster UI   {config.dagster_url}  (the history's backfills: {config.dagster_url}/runs)",
            f"  API docs     {config.api_url}/docs",
            f"  read key     {read_key}",
            f"The biggest guild, {guild.guild_id} ({guild.messages:,} messages in the history):",
            f"  dashboard page  {config.api_url}/ui/guilds/{guild.guild_id}  (enter the read key)",
            f"  curl {auth} '{base}/dashboard?period=week'",
            f"  curl {auth} '{base}/leaderboard?category=overall&period=week'",
            f"  curl {auth} '{base}/activity?period=week&granularity=day'",
            f"Logs in {logs}/. Ctrl-C stops everything.",
        ]
    )


def _biggest(history: Summary) -> GuildTally:
    return max(history.tally.guilds.values(), key=lambda g: (g.messages, g.guild_id))


def _instant(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
