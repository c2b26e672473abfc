"""`stats-platform`: the operator's command line."""

from __future__ import annotations

import logging

import typer

from stats_api.core.config import get_settings
from stats_api.core.database import resolve_database_url
from stats_api.core.migrations import migrate

app = typer.Typer(help="Discord stats platform: database, keys, API, pipeline.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.callback()
def _setup_logging(verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations from sql/ (a no-op when up to date)."""
    settings = get_settings()
    url = resolve_database_url(settings)
    done = migrate(url, timescaledb=settings.timescaledb)
    typer.echo(f"applied {len(done)} migration(s): {', '.join(done)}" if done else "database is up to date")


if __name__ == "__main__":
    app()
