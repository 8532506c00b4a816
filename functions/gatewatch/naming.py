"""Resource names that the CDK stack creates and the notifier links to — defined once, here.

Why a module of its own: the stack names a dashboard and its alarms, and the notifier must build
console links to the very same names. If each side formatted its own string they would drift apart
silently (a Slack button to a dashboard that does not exist). Both import these helpers.

Names are built from the value of the `Api` metric dimension (the configured friendly name, or the
API id when none is configured) so that a dashboard, its alarms and the metrics agree — and start with
the deployment: the name of the CloudFormation stack (`Gatewatch`, or `-c gatewatch:stackName=Other`),
so that two copies of gatewatch in one account and region never share a name. The stack passes it to
the notifier in GATEWATCH_DEPLOYMENT. Without a deployment (the CLI, the local demo) names start with
`gatewatch`.
"""

from __future__ import annotations

import re

from gatewatch.constants import EXECUTION_LOG_GROUP_PREFIX

NAME_PREFIX = "gatewatch"
#: CloudWatch dashboard names allow A-Z a-z 0-9 - _ (max 255); alarm names allow more, but using the
#: same safe alphabet keeps console URLs and names readable and identical on both sides.
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_MAX_NAME = 255


def slug(part: str) -> str:
    """`part` as it appears in names: runs of characters outside A-Z a-z 0-9 _ - become one `-`.

    Different values can give one slug ("orders v2" and "orders-v2"): the stack refuses such APIs."""
    return _UNSAFE.sub("-", str(part)).strip("-") or "unnamed"


def _prefix(deployment: str | None) -> str:
    return slug(deployment) if deployment else NAME_PREFIX


def dashboard_name(api: str, deployment: str | None = None) -> str:
    """The per-API CloudWatch dashboard: `{deployment}-{api}` (api = the `Api` dimension value)."""
    return f"{_prefix(deployment)}-{slug(api)}"[:_MAX_NAME]


def alarm_name(api: str, stage: str, what: str, deployment: str | None = None) -> str:
    """An alarm's name: `{deployment}-{api}-{stage}-{what}`.

    `what` names the condition, e.g. `5xx-rate`, `p90-latency`, or a category name such as
    `THROTTLED` for a per-category burst alarm — the notifier recognises category names in alarm
    names and enriches the Slack message with the category's meaning and fix.
    """
    return f"{_prefix(deployment)}-{slug(api)}-{slug(stage)}-{slug(what)}"[:_MAX_NAME]


def health_alarm_name(what: str, deployment: str | None = None) -> str:
    """One of gatewatch's own alarms (its pipeline, not an API): `{deployment}-health-{what}`."""
    return f"{_prefix(deployment)}-health-{slug(what)}"[:_MAX_NAME]


def account_policy_name(deployment: str | None = None) -> str:
    """The account-level subscription filter policy of the `account-policy` ingestion mode."""
    return f"{_prefix(deployment)}-subscription"[:_MAX_NAME]


def execution_log_group(api_id: str, stage: str) -> str:
    """The log group API Gateway writes execution logs to (DESIGN §3)."""
    return f"{EXECUTION_LOG_GROUP_PREFIX}{api_id}/{stage}"


def execution_log_group_ids(log_group: str | None) -> tuple[str, str] | None:
    """`API-Gateway-Execution-Logs_{apiId}/{stage}` -> (apiId, stage); anything else -> None.

    A leading "/" is tolerated (some tools print log groups as paths).
    """
    if not log_group or log_group.__class__ is not str:
        return None
    name = log_group[1:] if log_group[0] == "/" else log_group
    if not name.startswith(EXECUTION_LOG_GROUP_PREFIX):
        return None
    api_id, _sep, stage = name[len(EXECUTION_LOG_GROUP_PREFIX) :].partition("/")
    if not api_id or not stage or "/" in stage or api_id.strip() != api_id or stage.strip() != stage:
        return None
    return api_id, stage
