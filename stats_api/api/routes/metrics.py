"""GET /metrics: Prometheus exposition of the API's metrics (stats_api.metrics)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stats_api.metrics import process_registry

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text format: this process's (or, in multiprocess mode, every worker's)
    metrics, then Redis and the pipeline's state as read at scrape time. No key: expose it
    only where Prometheus scrapes."""
    body = generate_latest(process_registry()) + generate_latest(request.app.state.platform_metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
