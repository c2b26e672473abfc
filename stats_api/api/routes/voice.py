"""GET /v1/guilds/{guildId}/stats/voice/live: who is in which voice channel now."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from fastapi import APIRouter, Response

from stats_api.api.responder import ERRORS, LivePresenceDep, Snapshot, StatsDep, as_of_z
from stats_api.live.presence import Entry, LivePresence
from stats_api.schemas import LiveVoice
from stats_platform.domain.instants import iso_z

router = APIRouter(prefix="/v1/guilds/{guildId}/stats/voice", tags=["stats"])


@router.get("/live", response_model=LiveVoice, responses=ERRORS)
def live_voice(stats: StatsDep, presence: LivePresenceDep) -> Response:
    """Members in a voice channel now and since when (their session's start), from the live
    presence kept in Redis, or from the stored events when Redis lost it or is down. Sessions
    open longer than the cap (24 hours) are not live. Cached like every answer, keyed by the
    guild's newest voice arrival, and never past the instant its longest session reaches the cap."""
    return stats.respond(
        "voice/live",
        {},
        lambda snap: live_voice_answer(snap, presence),
        follows=lambda snap: snap.newest_voice_arrival,
        true_until=_first_to_reach_the_cap,
    )


def live_voice_answer(snap: Snapshot, presence: LivePresence) -> LiveVoice:
    """Who is in voice in `snap` (also the live stream's voice part)."""
    as_of = snap.newest_voice_arrival
    present = presence.read(snap.conn, snap.guild_id, now=snap.now, newest_voice=as_of)
    return LiveVoice.model_validate({"channels": _channels(present), "dataAsOf": as_of_z(as_of)})


def _first_to_reach_the_cap(snap: Snapshot, answer: LiveVoice) -> datetime | None:
    """When the longest-present member stops being live by the cap alone (None: nobody is)."""
    since = [m.since for c in answer.channels for m in c.members]
    return datetime.fromisoformat(min(since)) + snap.cap if since else None


def _channels(present: list[tuple[str, Entry]]) -> list[dict[str, object]]:
    """By channelId numerically; in a channel, longest present first, then by userId."""
    by_channel: dict[str, list[tuple[str, Entry]]] = defaultdict(list)
    for user, entry in present:
        by_channel[entry.channel_id or ""].append((user, entry))
    return [
        {
            "channelId": channel,
            "members": [
                {"userId": user, "since": iso_z(entry.since_at)}
                for user, entry in sorted(members, key=lambda m: (m[1].since, len(m[0]), m[0]))
            ],
        }
        for channel, members in sorted(by_channel.items(), key=lambda c: (len(c[0]), c[0]))
    ]
