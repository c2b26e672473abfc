from __future__ import annotations

import dagster as dg


class AlertResource(dg.ConfigurableResource):
    """Where run failures are posted (a JSON webhook, e.g. Slack or Discord); None only logs them."""

    webhook_url: str | None = None
