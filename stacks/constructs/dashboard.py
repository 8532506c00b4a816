"""One CloudWatch dashboard per API: what is failing, why, and how slow — at a glance.

Per stage: requests and error rates; errors by category (stacked) and execution-log causes; 429s
split into quota vs throttle; latency p50/p90/p99 and the integration vs gateway-overhead split;
near-timeouts; the top failing routes and the latest failing requests (Logs Insights over the
access log group, the queries built for the stage's format by `stacks.monitoring.insights`); and the
alarms' state. A last row shows gatewatch's own health.

The dashboard's name comes from `gatewatch.naming.dashboard_name`, the same function the notifier
uses for its Slack links. Its metrics and error rates are the alarms' own definitions
(`stacks.monitoring.alarm_specs`), made CloudWatch objects by `stacks.monitoring.factory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from gatewatch import constants as C
from gatewatch.classify.taxonomy import ErrorCategory
from gatewatch.naming import dashboard_name
from stacks.monitoring.alarm_specs import api_metric, error_rate, source_metric
from stacks.monitoring.factory import graph_math, graph_metric
from stacks.monitoring.insights import AccessQueries, access_queries

PERIOD = cdk.Duration.minutes(1)
FULL = 24

RECENT_EXECUTION_FAILURES_QUERY = r"""fields @timestamp, @message
| filter @message like /Method completed with status: [45]\d\d/ or @message like /Execution failed/
| sort @timestamp desc
| limit 20"""


def dashboard_url_prefix() -> str:
    """The console URL a dashboard name is appended to (GATEWATCH_DASHBOARD_URL)."""
    return (
        f"https://{cdk.Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={cdk.Aws.REGION}#dashboards/dashboard/"
    )


@dataclass(frozen=True)
class StagePanel:
    """What the dashboard shows for one watched stage."""

    api: str  # the Api dimension value
    stage: str
    access_log_group_name: str | None
    execution_log_group_name: str | None
    alarms: Sequence[cloudwatch.IAlarm] = field(default_factory=tuple)
    access_queries: AccessQueries = field(default_factory=access_queries)  # for the stage's access-log format


class GatewatchDashboards(Construct):
    """Creates `{deployment}-{api}` dashboards; `urls` maps the Api dimension value to the console URL."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        panels: Sequence[StagePanel],
        namespace: str,
        health_alarms: Sequence[cloudwatch.IAlarm],
        deployment: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.namespace = namespace
        self.dashboards: dict[str, cloudwatch.Dashboard] = {}
        self.urls: dict[str, str] = {}
        by_api: dict[str, list[StagePanel]] = {}
        for panel in panels:
            by_api.setdefault(panel.api, []).append(panel)
        for i, (api, stage_panels) in enumerate(by_api.items()):
            name = dashboard_name(api, deployment)
            board = cloudwatch.Dashboard(
                self, f"Dashboard{i}", dashboard_name=name, default_interval=cdk.Duration.hours(3)
            )
            for panel in stage_panels:
                for row in self._stage_rows(panel):
                    board.add_widgets(*row)
            board.add_widgets(*self._health_row(health_alarms))
            self.dashboards[api] = board
            self.urls[api] = dashboard_url_prefix() + name

    # ----------------------------------------------------------------- metrics

    def _metric(
        self, panel: StagePanel, name: str, statistic: str, label: str | None = None, **extra: str
    ) -> cloudwatch.Metric:
        ref = api_metric(panel.api, panel.stage, name, statistic, namespace=self.namespace, **extra)
        return graph_metric(ref, label=label)

    def _search(self, panel: StagePanel, metric_name: str, label: str) -> cloudwatch.MathExpression:
        """Every Category of a metric, whatever categories show up (SEARCH finds them)."""
        api, stage = _search_literal(panel.api), _search_literal(panel.stage)
        expression = (
            f'SEARCH(\'{{"{self.namespace}",{C.DIM_API},{C.DIM_STAGE},{C.DIM_CATEGORY}}} '
            f'MetricName="{metric_name}" {C.DIM_API}="{api}" {C.DIM_STAGE}="{stage}"\', \'Sum\', 60)'
        )
        return cloudwatch.MathExpression(expression=expression, using_metrics={}, label=label, period=PERIOD)

    def _rate(self, panel: StagePanel, errors_metric: str) -> cloudwatch.MathExpression:
        """The error rate the alarms watch (`alarm_specs.error_rate`), drawn on the dashboard."""
        # ids are per expression: two rates in one graph must not share a metric id
        ids = (f"req{errors_metric.lower()}", f"err{errors_metric.lower()}")
        return graph_math(error_rate(panel.api, panel.stage, errors_metric, namespace=self.namespace, ids=ids))

    # ----------------------------------------------------------------- rows

    def _stage_rows(self, panel: StagePanel) -> list[list[cloudwatch.IWidget]]:
        m = self._metric
        header = cloudwatch.TextWidget(
            markdown=f"## {panel.api} / {panel.stage}\nErrors are grouped by *why* they failed "
            "(gatewatch categories); see the README's taxonomy for each category's fix and retry advice.",
            width=FULL,
            height=2,
        )
        requests = cloudwatch.GraphWidget(
            title="Requests and error rate",
            width=12,
            left=[m(panel, C.METRIC_REQUESTS, "Sum", "Requests")],
            right=[self._rate(panel, C.METRIC_ERRORS_5XX), self._rate(panel, C.METRIC_ERRORS_4XX)],
            right_y_axis=cloudwatch.YAxisProps(label="%", min=0, show_units=False),
        )
        by_category = cloudwatch.GraphWidget(
            title="Errors by category", width=12, stacked=True, left=[self._search(panel, C.METRIC_ERRORS, "Errors")]
        )
        causes = cloudwatch.GraphWidget(
            title="Causes (execution logs)",
            width=8,
            stacked=True,
            left=[self._search(panel, C.METRIC_CAUSES, "Causes")],
        )
        too_many = cloudwatch.GraphWidget(
            title="429: quota vs throttle",
            width=8,
            stacked=True,
            left=[
                m(panel, C.METRIC_ERRORS, "Sum", c.value, **{C.DIM_CATEGORY: c.value})
                for c in (ErrorCategory.QUOTA_EXCEEDED, ErrorCategory.THROTTLED, ErrorCategory.BACKEND_THROTTLED)
            ],
        )
        near = cloudwatch.GraphWidget(
            title="Near-timeouts (≥ 90% of the integration timeout)",
            width=8,
            left=[m(panel, C.METRIC_NEAR_TIMEOUT, "Sum", "Near-timeouts")],
        )
        latency = cloudwatch.GraphWidget(
            title="Latency p50 / p90 / p99",
            width=12,
            left=[m(panel, C.METRIC_LATENCY, p, f"Latency {p}") for p in ("p50", "p90", "p99")],
        )
        split = cloudwatch.GraphWidget(
            title="Integration latency vs gateway overhead",
            width=12,
            left=[m(panel, C.METRIC_INTEGRATION_LATENCY, p, f"Integration {p}") for p in ("p50", "p90")]
            + [m(panel, C.METRIC_GATEWAY_OVERHEAD, p, f"Gateway overhead {p}") for p in ("p50", "p90")],
        )
        rows: list[list[cloudwatch.IWidget]] = [
            [header],
            [requests, by_category],
            [causes, too_many, near],
            [latency, split],
        ]
        if panel.access_log_group_name:
            rows.append(
                [
                    cloudwatch.LogQueryWidget(
                        title="Top failing routes",
                        width=12,
                        height=8,
                        log_group_names=[panel.access_log_group_name],
                        query_string=panel.access_queries.top_failing_routes,
                        view=cloudwatch.LogQueryVisualizationType.TABLE,
                    ),
                    cloudwatch.LogQueryWidget(
                        title="Recent failing requests",
                        width=12,
                        height=8,
                        log_group_names=[panel.access_log_group_name],
                        query_string=panel.access_queries.recent_failures,
                        view=cloudwatch.LogQueryVisualizationType.TABLE,
                    ),
                ]
            )
        elif panel.execution_log_group_name:
            rows.append(
                [
                    cloudwatch.LogQueryWidget(
                        title="Recent failing requests (execution log)",
                        width=FULL,
                        height=8,
                        log_group_names=[panel.execution_log_group_name],
                        query_string=RECENT_EXECUTION_FAILURES_QUERY,
                        view=cloudwatch.LogQueryVisualizationType.TABLE,
                    )
                ]
            )
        if panel.alarms:
            rows.append(
                [
                    cloudwatch.AlarmStatusWidget(
                        title=f"Alarms of {panel.api} / {panel.stage}", width=FULL, alarms=list(panel.alarms)
                    )
                ]
            )
        return rows

    def _health_row(self, health_alarms: Sequence[cloudwatch.IAlarm]) -> list[cloudwatch.IWidget]:
        lines = cloudwatch.GraphWidget(
            title="gatewatch: lines parsed / unparsed",
            width=12,
            left=[
                graph_metric(source_metric(name, source, namespace=self.namespace), label=f"{name} {source}")
                for name in (C.METRIC_LINES_PARSED, C.METRIC_LINES_UNPARSED)
                for source in (C.SOURCE_ACCESS, C.SOURCE_EXECUTION)
            ]
            # set aside, not failures: other services' log groups, and requests too old (or too far
            # ahead) for CloudWatch to take as metrics
            + [
                graph_metric(
                    source_metric(C.METRIC_LINES_UNPARSED, source, namespace=self.namespace),
                    label=f"set aside: {source}",
                )
                for source in (C.SOURCE_OTHER, C.SOURCE_OUT_OF_WINDOW)
            ]
            # read distrustfully: a caller's value added keys (or a format change looks like it did)
            + [
                graph_metric(
                    source_metric(C.METRIC_LINES_SUSPICIOUS, C.SOURCE_ACCESS, namespace=self.namespace),
                    label=f"suspicious: {C.SOURCE_ACCESS}",
                )
            ],
        )
        status = cloudwatch.AlarmStatusWidget(title="gatewatch health", width=12, alarms=list(health_alarms))
        return [lines, status]


def _search_literal(value: str) -> str:
    """A value safe inside SEARCH('... Api="<value>" ...'): no quotes that would end either string."""
    return value.replace("'", "").replace('"', "")


__all__ = [
    "RECENT_EXECUTION_FAILURES_QUERY",
    "GatewatchDashboards",
    "StagePanel",
    "dashboard_url_prefix",
]
