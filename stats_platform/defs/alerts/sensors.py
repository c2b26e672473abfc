import dagster as dg
import httpx

from stats_platform.resources import AlertResource


@dg.run_failure_sensor(
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Logs every failed run and posts it to the configured webhook, if any.",
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, alerts: AlertResource):
    run = context.dagster_run
    message = f"Dagster run {run.run_id} of {run.job_name} failed: {context.failure_event.message}"
    context.log.error(message)
    if alerts.webhook_url:
        payload = {
            "text": message,
            "run_id": run.run_id,
            "job": run.job_name,
            "tags": dict(run.tags),
        }
        httpx.post(alerts.webhook_url, json=payload, timeout=10).raise_for_status()
