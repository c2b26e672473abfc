"""Response models: ingestion, health and the stats answers (and the documented shape of an event)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from stats_api.figures import Category
from stats_api.ingest.validate import MAX_ID_CHARS
from stats_api.periods import Granularity
from stats_platform.domain.snowflakes import SNOWFLAKE

SNOWFLAKE_PATTERN = f"^{SNOWFLAKE.pattern}$"


class EventIn(BaseModel):
    """One event as the bot sends it. Documentation only: the endpoint checks events with
    plain code (stats_api.ingest.validate), because it is the hot path."""

    id: str | None = Field(default=None, max_length=MAX_ID_CHARS, description="idempotency key")
    type: str = Field(description="a known event type or any UPPER_SNAKE name")
    guildId: str = Field(pattern=SNOWFLAKE_PATTERN)
    userId: str | None = Field(default=None, pattern=SNOWFLAKE_PATTERN)
    channelId: str | None = Field(default=None, pattern=SNOWFLAKE_PATTERN)
    messageId: str | None = Field(default=None, pattern=SNOWFLAKE_PATTERN)
    roleId: str | None = Field(default=None, pattern=SNOWFLAKE_PATTERN)
    shardId: int | None = Field(default=None, ge=0)
    timestamp: int | str = Field(description="epoch milliseconds, or ISO-8601 with an offset")
    data: dict[str, Any] | None = Field(
        default=None, description="free JSON, at most 16 KiB encoded"
    )


class IngestError(BaseModel):
    index: int = Field(description="position of the event in the batch, from 0")
    field: str = Field(description="the event field at fault, or `event` when it is not an object")
    message: str = Field(description="the rule the field breaks")


class IngestResult(BaseModel):
    accepted: int = Field(description="events stored by this request")
    duplicates: int = Field(description="valid events already stored (or repeated in the batch)")
    rejected: int = Field(description="events that broke a rule; see errors")
    errors: list[IngestError]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    database: Literal["ok", "unavailable"]
    migrations: Literal["current", "outdated", "unknown"]
    redis: Literal["ok", "unavailable"] = Field(description="optional: the API works without it")


class CamelModel(BaseModel):
    """snake_case in Python, camelCase in JSON (contract §3)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# Written out for the OpenAPI schema and mypy; tests/stats_api/test_schema_domain.py checks that
# it stays stats_platform.domain.grains.RESOLUTIONS.
Resolution = Literal["exact", "5min", "hour", "day"]
INSTANT = "2024-05-06T00:00:00.000Z"
USER_ID = "80351110224678912"


class AnswerMeta(CamelModel):
    period_start: str = Field(description="window start, UTC ISO-8601 with Z", examples=[INSTANT])
    period_end: str = Field(
        description="window end (exclusive), UTC ISO-8601 with Z",
        examples=["2024-05-13T00:00:00.000Z"],
    )
    data_as_of: str | None = Field(
        description="arrival time of the newest event counted; null when none is",
        examples=["2024-05-12T23:59:58.120Z"],
    )
    resolution: Resolution = Field(
        description="`exact` within the raw-event retention; older windows are answered from"
        " rollups to the 5 minutes, the hour or the day",
        examples=["exact"],
    )


class TopMember(CamelModel):
    user_id: str = Field(examples=[USER_ID])
    total_messages: int = Field(description="messages in the period", examples=[42])
    total_voice_minutes: int = Field(description="voice minutes in the period", examples=[95])


class Dashboard(AnswerMeta):
    total_messages: int = Field(description="MESSAGE_CREATE events", examples=[1200])
    total_voice_minutes: int = Field(description="floor(voice seconds / 60)", examples=[3600])
    total_reactions: int = Field(description="MESSAGE_REACTION_ADD events", examples=[310])
    unique_active_users: int = Field(
        description="distinct users with an event or voice time", examples=[57]
    )
    new_members: int = Field(description="GUILD_MEMBER_ADD events", examples=[4])
    left_members: int = Field(description="GUILD_MEMBER_REMOVE events", examples=[1])
    messages_change: int | None = Field(
        description="percent change against the previous period, halves away from zero;"
        " null when the previous period had none, and for `all`",
        examples=[-13],
    )
    voice_minutes_change: int | None = Field(description="as messagesChange", examples=[50])
    reactions_change: int | None = Field(description="as messagesChange", examples=[200])
    active_users_change: int | None = Field(description="as messagesChange", examples=[None])
    top_members: list[TopMember] = Field(
        description="the 3 members with most messages (at least one), ties by userId ascending"
    )


class MemberRow(CamelModel):
    user_id: str = Field(examples=[USER_ID])
    guild_id: str = Field(examples=["81384788765712384"])
    total_messages: int = Field(description="lifetime messages", examples=[5120])
    total_voice_minutes: int = Field(description="lifetime voice minutes", examples=[780])
    total_reactions_given: int = Field(examples=[301])
    total_reactions_received: int = Field(
        description="reactions naming this member as data.messageAuthorId", examples=[155]
    )
    last_message_at: str | None = Field(examples=[INSTANT])
    last_voice_at: str | None = Field(
        description="end of the latest voice session (now while one is open)", examples=[INSTANT]
    )
    last_seen: str | None = Field(description="latest anything", examples=[INSTANT])
    joined_at: str | None = Field(description="first GUILD_MEMBER_ADD kept", examples=[INSTANT])


class Pagination(CamelModel):
    total: int = Field(description="members matching the filters", examples=[57])
    page: int = Field(examples=[1])
    page_size: int = Field(examples=[20])
    total_pages: int = Field(
        description="ceil(total / pageSize); 0 when nothing matches", examples=[3]
    )


class MemberList(AnswerMeta):
    members: list[MemberRow]
    pagination: Pagination


class MemberPeriodActivity(CamelModel):
    total_messages: int = Field(description="messages in the period", examples=[12])
    total_voice_minutes: int = Field(description="voice minutes in the period", examples=[40])
    total_reactions_given: int = Field(examples=[3])
    total_reactions_received: int = Field(examples=[5])
    last_message_at: str | None = Field(
        description="latest message in the period", examples=[INSTANT]
    )
    last_voice_at: str | None = Field(
        description="latest voice time in the period", examples=[INSTANT]
    )
    last_seen: str | None = Field(description="latest anything in the period", examples=[INSTANT])


class MemberDetail(AnswerMeta, MemberRow):
    activity: MemberPeriodActivity = Field(description="this member's totals in the period")


class LeaderboardEntry(CamelModel):
    rank: int = Field(description="1..n without gaps", examples=[1])
    user_id: str = Field(examples=[USER_ID])
    score: int = Field(
        description="the category's number; overall = messages + voice minutes + reactions given",
        examples=[240],
    )
    total_messages: int = Field(examples=[120])
    total_voice_minutes: int = Field(examples=[100])
    total_reactions: int = Field(description="reactions given", examples=[20])
    badge: Literal["gold", "silver", "bronze"] | None = Field(
        description="ranks 1-3, else null", examples=["gold"]
    )


class Leaderboard(AnswerMeta):
    category: Category = Field(examples=["overall"])
    entries: list[LeaderboardEntry] = Field(
        description="members with a positive score, higher first, ties by userId ascending"
    )


class DataPoint(CamelModel):
    timestamp: str = Field(
        description="bucket start in `tz`, as a UTC instant (the first bucket counts from periodStart)",
        examples=[INSTANT],
    )
    total_messages: int = Field(examples=[80])
    total_voice_minutes: int = Field(examples=[240])
    total_reactions: int = Field(examples=[12])
    unique_active_users: int = Field(description="distinct over the bucket", examples=[9])
    joins: int = Field(examples=[1])
    leaves: int = Field(examples=[0])


class ActivitySeries(AnswerMeta):
    granularity: Granularity = Field(examples=["day"])
    data_points: list[DataPoint] = Field(
        description="one per bucket, no gaps; empty buckets are zeros"
    )


class VoiceMember(CamelModel):
    user_id: str = Field(examples=[USER_ID])
    since: str = Field(description="when the member's current session opened", examples=[INSTANT])


class VoiceChannel(CamelModel):
    channel_id: str = Field(examples=["41771983444115456"])
    members: list[VoiceMember] = Field(description="longest present first, ties by userId")


class LiveVoice(CamelModel):
    channels: list[VoiceChannel] = Field(description="channels with someone in them, by channelId")
    data_as_of: str | None = Field(
        description="arrival time of the newest voice event of the guild; null when none is kept",
        examples=["2024-05-12T23:59:58.120Z"],
    )


class LiveDay(BaseModel):
    from_: str = Field(
        alias="from", description="00:00 UTC today, ISO-8601 with Z", examples=[INSTANT]
    )
    to: str = Field(
        description="when the totals were computed (exclusive)",
        examples=["2024-05-06T18:30:12.345Z"],
    )


class LiveCards(CamelModel):
    """The dashboard's totals (its fields of the same names) for `period=today`, `tz=UTC`."""

    total_messages: int = Field(examples=[120])
    total_voice_minutes: int = Field(examples=[340])
    total_reactions: int = Field(examples=[31])
    unique_active_users: int = Field(examples=[17])
    new_members: int = Field(examples=[2])
    left_members: int = Field(examples=[0])


class LiveTotals(CamelModel):
    """The `data` of a `totals` event of GET .../stats/live."""

    guild_id: str = Field(examples=["81384788765712384"])
    day: LiveDay = Field(description="the UTC day so far, as the dashboard's period=today")
    data_as_of: str | None = Field(
        description="as the dashboard's dataAsOf", examples=["2024-05-06T18:30:11.020Z"]
    )
    totals: LiveCards
    voice: LiveVoice = Field(description="who is in voice, as GET .../stats/voice/live answers")
