"""Which log groups hold API Gateway's logs — by name, then by content.

Why: in account-policy mode every log group of the account reaches the analyzer (Lambda functions,
VPC flow logs, ECS tasks, CloudTrail...). Read as access logs they would count as unparsed access
lines (the unparsed-rate alarm would never recover) and a JSON app log with a `status` key would
become requests under `Api=unknown`: paid custom metrics made of junk. So a batch from a group that
is neither an execution-log group nor a configured access-log group must first show that it is API
Gateway's:

- by name: the prefixes AWS services write their own logs under are never API Gateway's access logs
  (`/aws/lambda/...`, `/aws/vpc/...`, `aws-waf-logs-...`, `/aws/apigateway/welcome` — the group API
  Gateway creates for its one "logging enabled" message); any other `/aws/apigateway/...` group is
  the conventional home of access logs and is read as one (so an unreadable format there still shows
  as unparsed access lines);
- by content: among its first few lines, one must be an access entry with API Gateway's own evidence:
  a status and a field only API Gateway's `$context` gives (resourcePath, routeKey, apiId,
  integrationLatency, error.responseType...), or — for the console's CLF preset — API Gateway's request
  time format together with its request id. An app log with `requestId`, `method` and `status` is not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from gatewatch.models import AccessRecord
from gatewatch.naming import execution_log_group_ids
from gatewatch.parse.access import parse_access_line
from gatewatch.parse.execution import looks_like_execution_line

#: Log group name prefixes of other AWS services' own logs (never an API Gateway access log).
OTHER_SERVICE_PREFIXES: tuple[str, ...] = (
    "/aws/lambda/",
    "/aws/lambda-insights",
    "/aws/vpc",
    "/aws/ecs/",
    "/ecs/",
    "/aws/eks/",
    "/aws/containerinsights/",
    "/aws/rds/",
    "RDSOSMetrics",
    "/aws/codebuild/",
    "/aws/codepipeline",
    "/aws/states/",
    "/aws/vendedlogs/states/",
    "/aws/events/",
    "/aws/route53",
    "/aws/cloudfront",
    "aws-cloudtrail-logs",
    "/aws/cloudtrail",
    "aws-waf-logs-",
    "/aws/kinesisfirehose/",
    "/aws/appsync/",
    "/aws/batch/",
    "/aws/sagemaker/",
    "/aws/elasticbeanstalk/",
    "/aws/msk",
    "/aws/amazonmq/",
    "/aws/opensearchservice/",
    "/aws/aes/",
    "/aws-glue/",
    "/aws/glue",
    "/aws/ssm/",
    "/aws/apprunner/",
    "/aws/bedrock",
    "/aws/transfer/",
    "/aws/imagebuilder/",
    "/aws/network-firewall",
    "/aws/cognito",
    "/aws/apigateway/welcome",
)

#: The conventional prefix of access-log groups (the console suggests it): read without sniffing.
GATEWAY_PREFIX = "/aws/apigateway/"

#: Canonical fields only API Gateway's `$context` fills (an app's own log would not carry them).
GATEWAY_ONLY_FIELDS = frozenset(
    {
        "api_id",
        "resource_path",
        "route_key",
        "extended_request_id",
        "integration_latency_ms",
        "integration_status",
        "integration_service_status",
        "integration_error",
        "error_response_type",
        "authorizer_latency_ms",
        "authorizer_error",
        "authorizer_status",
        "waf_response_code",
        "connection_id",
        "request_time_epoch_ms",
    }
)
#: `$context.requestTime` (04/Dec/2026:17:00:00 +0000) and `$context.requestId` (a UUID for REST APIs,
#: 16 base64 characters for HTTP APIs): together they mark the console's CLF preset.
_REQUEST_TIME = re.compile(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}")
_REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[A-Za-z0-9+/]{14,16}={0,2}")
#: How many of a batch's first non-blank lines are read to decide.
SNIFF_LINES = 10


def is_other_service_log_group(log_group: str) -> bool:
    """Is this group, by its name, another AWS service's own log (never API Gateway's access log)?"""
    return log_group.startswith(OTHER_SERVICE_PREFIXES)


def is_gateway_access(record: AccessRecord) -> bool:
    """Does a parsed access entry carry evidence that API Gateway wrote it (see the module docstring)?"""
    if record.status is None or record.suspicious:
        return False
    if not GATEWAY_ONLY_FIELDS.isdisjoint(record.fields_present):
        return True
    return bool(
        record.request_id
        and record.request_time
        and _REQUEST_ID.fullmatch(record.request_id)
        and _REQUEST_TIME.fullmatch(record.request_time)
    )


def holds_gateway_logs(
    log_group: str | None, messages: Sequence[str], field_map: Mapping[str, str] | None = None
) -> bool:
    """May this batch hold API Gateway logs? False only for a named group that is another service's
    by name, or whose first lines show no API Gateway evidence at all."""
    if not log_group or execution_log_group_ids(log_group) is not None:
        return True
    if is_other_service_log_group(log_group):
        return False
    if log_group.startswith(GATEWAY_PREFIX):
        return True
    read = 0
    for message in messages:
        if not message.strip():
            continue
        if looks_like_execution_line(message):
            return True
        record = parse_access_line(message, field_map=field_map, log_group=log_group)
        if isinstance(record, AccessRecord) and is_gateway_access(record):
            return True
        read += 1
        if read >= SNIFF_LINES:
            break
    return False


__all__ = [
    "GATEWAY_ONLY_FIELDS",
    "OTHER_SERVICE_PREFIXES",
    "holds_gateway_logs",
    "is_gateway_access",
    "is_other_service_log_group",
]
