"""Lists derived from the domain declarations cannot drift from the tables, settings and SQL."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from stats_platform.domain import rollups
from stats_platform.domain.blocks import BLOCK_PERIODS
from stats_platform.domain.events import EventType
from stats_platform.domain.grains import GRAIN_NAMES, GRAINS, RESOLUTIONS
from stats_platform.resources import PipelineSettings
from stats_platform.settings import Settings
from stats_platform.transforms.activity import member_activity, metrics_snapshots
from stats_platform.transforms.common import TIMESTAMP

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TABLE_COLUMNS = {
    "metrics_snapshots": (*rollups.SNAPSHOT_COLUMNS, "period_type", "computed_at"),
    "member_stats": (*rollups.MEMBER_STATS_COLUMNS, "updated_at"),
}


@pytest.mark.parametrize("table", sorted(TABLE_COLUMNS))
def test_rollup_tables_have_exactly_the_declared_columns(db, table):
    columns = db.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
    ).fetchall()
    assert sorted(c for (c,) in columns) == sorted(TABLE_COLUMNS[table])


def test_period_type_constraints_name_exactly_the_declared_grains(db):
    definitions = db.execute(
        "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE contype = 'c' AND pg_get_constraintdef(oid) LIKE '%period_type%'"
    ).fetchall()
    tables = {table for table, _ in definitions}
    assert {"metrics_snapshots", "member_blocks", "computed_windows", "window_arrivals"} <= tables
    for table, definition in definitions:
        declared = BLOCK_PERIODS if table == "member_blocks" else GRAIN_NAMES
        assert sorted(re.findall(r"'([^']+)'::text", definition)) == sorted(declared), table


def test_transforms_emit_the_declared_columns():
    events = pl.LazyFrame(
        schema={
            "seq": pl.Int64,
            "ts": TIMESTAMP,
            "guild_id": pl.String,
            "type": pl.String,
            "user_id": pl.String,
            "message_author_id": pl.String,
        }
    )
    voice = pl.LazyFrame(
        schema={
            "guild_id": pl.String,
            "window_start": TIMESTAMP,
            "user_id": pl.String,
            "voice_ms": pl.Int64,
            "last_voice_at": TIMESTAMP,
        }
    )
    members = member_activity(events, voice, every=GRAINS[0].length)
    assert tuple(members.collect_schema().names()) == rollups.MEMBER_ACTIVITY_COLUMNS
    snapshots = metrics_snapshots(events, members, every=GRAINS[0].length)
    assert tuple(snapshots.collect_schema().names()) == rollups.SNAPSHOT_COLUMNS


def test_pipeline_settings_are_the_settings_of_the_same_names_and_defaults():
    settings = Settings()
    for name, field in PipelineSettings.model_fields.items():
        assert name in Settings.model_fields, name
        assert field.default == getattr(settings, name), name
    assert PipelineSettings.from_settings(settings).voice_session_cap_hours == 24


def test_every_grain_names_a_retention_setting_and_a_resolution():
    for grain in GRAINS:
        assert grain.retention_setting in Settings.model_fields, grain.name
        assert grain.retention_setting in PipelineSettings.model_fields, grain.name
    assert RESOLUTIONS == ("exact", "5min", "hour", "day")
    assert [g.length for g in GRAINS] == sorted(g.length for g in GRAINS)


def test_no_sql_file_writes_a_grain_or_counted_event_type_as_a_literal():
    """They come in as bind parameters from the declarations, so a rename reaches every query."""
    literals = re.compile("'(" + "|".join(map(re.escape, [*GRAIN_NAMES, *EventType])) + ")'")
    found = [
        f"{path.relative_to(PROJECT_ROOT)}: {match.group(0)}"
        for package in ("stats_platform", "stats_api")
        for path in sorted((PROJECT_ROOT / package).rglob("*.sql"))
        for match in literals.finditer(path.read_text())
    ]
    assert found == []
