"""Names and defaults shared by the engine, the handlers, the CLI and the CDK stack (one place)."""

from __future__ import annotations

# Environment variables (DESIGN §8) — the contract between the stack and the handlers.
ENV_APIS = "GATEWATCH_APIS"
ENV_ALERT_TOPIC_ARN = "GATEWATCH_ALERT_TOPIC_ARN"
ENV_STATE_TABLE = "GATEWATCH_STATE_TABLE"
ENV_SLACK_SECRET = "GATEWATCH_SLACK_SECRET"
ENV_SLACK_BOT_SECRET = "GATEWATCH_SLACK_BOT_SECRET"
ENV_SLACK_CHANNEL = "GATEWATCH_SLACK_CHANNEL"
ENV_ALERT_CATEGORIES = "GATEWATCH_ALERT_CATEGORIES"
ENV_ALERT_COOLDOWN_S = "GATEWATCH_ALERT_COOLDOWN_SECONDS"
ENV_ROUTE_CAP = "GATEWATCH_ROUTE_CAP"
ENV_FIELD_MAP = "GATEWATCH_FIELD_MAP"
ENV_DASHBOARD_URL = "GATEWATCH_DASHBOARD_URL"
ENV_DEPLOYMENT = "GATEWATCH_DEPLOYMENT"  # the stack name that starts dashboard and alarm names (naming.py)
ENV_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"

# Metric contract (DESIGN §5).
DEFAULT_NAMESPACE = "Gatewatch"
SERVICE_NAME = "gatewatch"
DIM_API = "Api"
DIM_STAGE = "Stage"
DIM_ROUTE = "Route"
DIM_CATEGORY = "Category"
DIM_STATUS_CODE = "StatusCode"
DIM_SOURCE = "Source"
METRIC_REQUESTS = "Requests"
METRIC_ERRORS_4XX = "Errors4xx"
METRIC_ERRORS_5XX = "Errors5xx"
METRIC_ERRORS = "Errors"
METRIC_LATENCY = "Latency"
METRIC_INTEGRATION_LATENCY = "IntegrationLatency"
METRIC_GATEWAY_OVERHEAD = "GatewayOverhead"
METRIC_NEAR_TIMEOUT = "NearTimeout"
METRIC_CAUSES = "Causes"
METRIC_LINES_PARSED = "LinesParsed"
METRIC_LINES_UNPARSED = "LinesUnparsed"
#: Lines a caller's unescaped value added keys to (counted in LinesParsed too; no dimension, no alert).
METRIC_LINES_SUSPICIOUS = "LinesSuspicious"

SOURCE_ACCESS = "access"
SOURCE_EXECUTION = "execution"
SOURCE_INPUT = "input"  # a record that could not even be decoded (bad base64, gzip, JSON envelope)
#: Lines of log groups that are not API Gateway's (an account-level subscription sends every group): set
#: aside unread, counted in LinesUnparsed, never an Api dimension.
SOURCE_OTHER = "other"
#: Requests whose minute CloudWatch no longer (or not yet) accepts for a metric: counted in LinesUnparsed
#: instead of being published at the wrong time.
SOURCE_OUT_OF_WINDOW = "out-of-window"

#: CloudWatch accepts an EMF timestamp up to 14 days in the past and 2 hours ahead (as Powertools checks);
#: gatewatch keeps 10 minutes inside each edge, for the time between printing and CloudWatch reading it.
EMF_MAX_PAST_MS = 14 * 24 * 3600 * 1000 - 10 * 60 * 1000
EMF_MAX_FUTURE_MS = 2 * 3600 * 1000 - 10 * 60 * 1000

# Classification defaults (DESIGN §4).
DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000
DEFAULT_SLOW_MS = 2_000
NEAR_TIMEOUT_RATIO = 0.9
#: The largest latency gatewatch believes: 24 hours. A logged latency outside 0..24 h (a hostile "1e300", a
#: negative number) is read as not logged, so no metric value outside CloudWatch's range is ever emitted.
MAX_LATENCY_MS = 86_400_000
ROUTE_UNMATCHED = "UNMATCHED"
ROUTE_OTHER = "OTHER"
DEFAULT_ROUTE_CAP = 100
MAX_DIMENSION_VALUE_LENGTH = 250  # CloudWatch allows 1024; keep dashboards readable

# Alerting defaults (DESIGN §6).
DEFAULT_ALERT_COOLDOWN_S = 15 * 60
ALERT_SCHEMA_VERSION = "gatewatch.alert/v1"
MAX_ALERT_SAMPLES = 5

# Execution-log group naming.
EXECUTION_LOG_GROUP_PREFIX = "API-Gateway-Execution-Logs_"

# How much of an offending line a rejection keeps (redacted) for the structured log line.
REJECTION_SAMPLE_CHARS = 120
