"""Reading as one guild: the role and setting that row-level security keys on (sql/0007).

The stats API calls `as_guild_reader` first in each read transaction. From then until the
transaction ends, the connection is `stats_reader` and its policies show only that guild's rows
of the guild-keyed tables, whatever filter a query forgets. Both settings are transaction-local,
so a pooled connection is itself again once the transaction ends.
"""

from __future__ import annotations

import psycopg
from psycopg.pq import TransactionStatus

READER_ROLE = "stats_reader"


def as_guild_reader(conn: psycopg.Connection, guild_id: str) -> None:
    """Makes the rest of the caller's open transaction read as `guild_id` only."""
    if conn.autocommit and conn.info.transaction_status != TransactionStatus.INTRANS:
        # SET LOCAL outside a transaction block does nothing: the read would run unguarded.
        raise RuntimeError("as_guild_reader needs an open transaction (conn.transaction())")
    # One round trip on every stats read: set_config('role', ..., true) is SET LOCAL ROLE.
    conn.execute(
        "SELECT set_config('role', %s, true), set_config('stats.guild_id', %s, true)",
        (READER_ROLE, guild_id),
    )
