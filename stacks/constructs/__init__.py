"""One construct per concern: functions, ingestion, alerting, dashboard."""
