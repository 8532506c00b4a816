"""Resource names that the CDK stack creates and the notifier links to — defined once, here.

Why a module of its own: the stack names a dashboard and its alarms, and the notifier must build
console links to the very same names. If each side formatted its own string they would drift apart
silently (a Slack button to a dashboard that does not exist). Both import these helpers.

Names are built from the value of the `Api` metric dimension (the configured friendly name, or the
API id when none is configured) so that a dashboard, its alarms and the metrics agree.
"""

from __future__ import annotations

import re

from gatewatch.constants import EXECUTION_LOG_GROUP_PREFIX

NAME_PREFIX = "gatewatch"
#: CloudWatch dashboard names allow A-Z a-z 0-9 - _ (max 255); alarm names allow more, but using the
#: same safe alphabet keeps console URLs and names readable and identical on both sides.
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_MAX_NAME = 255


def _slug(part: str) -> str:
    return _UNSAFE.sub("-", str(part)).strip("-") or "unnamed"


def dashboard_name(api: str) -> str:
    """The per-API CloudWatch dashboard: `gatewatch-{api}` (api = the `Api` dimension value)."""
    return f"{NAME_PREFIX}-{_slug(api)}"[:_MAX_NAME]


def alarm_name(api: str, stage: str, what: str) -> str:
    """An alarm's name: `gatewatch-{api}-{stage}-{what}`.

    `what` names the condition, e.g. `5xx-rate`, `p90-latency`, or a category name such as
    `THROTTLED` for a per-category burst alarm — the notifier recognises category names in alarm
    names and enriches the Slack message with the category's meaning and fix.
    """
    return f"{NAME_PREFIX}-{_slug(api)}-{_slug(stage)}-{_slug(what)}"[:_MAX_NAME]


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
