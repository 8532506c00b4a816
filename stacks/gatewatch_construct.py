"""`Gatewatch`: add gatewatch to your own CDK app in one line.

    Gatewatch(self, "Gatewatch", rest_apis=[orders_api], http_apis=[users_api],
              config={"slack": {"webhookSecretName": "gatewatch/slack"}})

For each RestApi / HttpApi (or Stage / HttpStage) it is given, it sets the recommended access-log
format (every field the classifier reads) with a log group it creates, turns on INFO execution
logging for REST stages and creates their execution log group, then wires the analyzer, notifier,
alarms and dashboards exactly as the standalone stack does for the APIs listed in `config["apis"]`.
A stage that already logs access with a custom format lacking fields the classifier needs fails
synth with the list of missing `$context` variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from constructs import Construct

from gatewatch.config import ApiSettings, api_settings_entry, normalize_route
from gatewatch.naming import account_policy_name, dashboard_name, execution_log_group, slug
from stacks.config import GatewatchConfig, GatewatchConfigError, parse_config
from stacks.constructs.alerting import GatewatchAlerting
from stacks.constructs.dashboard import GatewatchDashboards, StagePanel, dashboard_url_prefix
from stacks.constructs.functions import AlertingTargets, GatewatchFunctions, retained_log_group
from stacks.constructs.ingestion import GatewatchIngestion, LogSource
from stacks.monitoring.alarm_specs import AlarmSpec, Thresholds, api_alarm_specs, health_alarm_specs
from stacks.monitoring.insights import AccessLogFormat, access_queries

# --------------------------------------------------------------------------- access-log format

#: key -> $context variable; keys are the variable names themselves (a naming style the parser reads).
_COMMON_FIELDS = (
    "requestId",
    "extendedRequestId",
    "apiId",
    "stage",
    "httpMethod",
    "status",
    "protocol",
    "responseLength",
    "requestTimeEpoch",
    "responseLatency",
    "integrationLatency",
    "integrationStatus",
    "integration.status",
    "integration.error",
    "integrationErrorMessage",
    "error.responseType",
    "error.message",
    "authorizer.error",
)
REST_ACCESS_LOG_VARIABLES = _COMMON_FIELDS + (
    "resourcePath",
    "authorizer.latency",
    "authorizer.status",
    "wafResponseCode",
    "waf.status",
    "waf.error",
    "identity.apiKeyId",
)
HTTP_ACCESS_LOG_VARIABLES = _COMMON_FIELDS + ("routeKey",)

#: What the classifier cannot do without (alternatives: any one of the tuple). The rest are recommended.
REQUIRED_ACCESS_LOG_VARIABLES: tuple[tuple[str, ...], ...] = (
    ("requestId", "extendedRequestId"),
    ("status",),
    ("apiId",),
    ("stage",),
    ("resourcePath", "routeKey"),
    ("error.responseType",),
    ("error.message",),
    ("integration.error", "integrationErrorMessage"),
    ("integration.status",),
    ("integrationStatus", "integration.integrationStatus"),
    ("integrationLatency", "integration.latency"),
    ("responseLatency",),
)


def recommended_access_log_format(variables: Sequence[str] = REST_ACCESS_LOG_VARIABLES) -> str:
    """One JSON object per request, every value quoted (`-` stays a valid string when a value is absent)."""
    return "{" + ",".join(f'"{v}":"$context.{v}"' for v in variables) + "}"


def missing_access_log_variables(log_format: str) -> list[str]:
    """The required `$context` variables a format lacks (each alternative group reported once)."""
    missing = []
    for group in REQUIRED_ACCESS_LOG_VARIABLES:
        if not any(re.search(r"\$context\." + re.escape(v) + r"(?![A-Za-z0-9_.])", log_format) for v in group):
            missing.append(" or ".join(f"$context.{v}" for v in group))
    return missing


# --------------------------------------------------------------------------- the construct


@dataclass(frozen=True)
class _Target:
    """One watched stage, with its log groups as constructs."""

    api_id: str
    stage: str
    dimension: str
    settings: ApiSettings  # what GATEWATCH_APIS says of this API
    thresholds: Thresholds
    access_log_group: logs.ILogGroup | None
    execution_log_group: logs.ILogGroup | None
    existing_filters: int = 0
    access_log_format: AccessLogFormat = AccessLogFormat.JSON  # in-app stages log the recommended JSON


class Gatewatch(Construct):
    """Everything gatewatch deploys, for the APIs in `config` plus the in-app `rest_apis` / `http_apis`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: GatewatchConfig | Mapping[str, Any] | None = None,
        rest_apis: Sequence[apigw.RestApi | apigw.Stage] = (),
        http_apis: Sequence[apigwv2.HttpApi | apigwv2.HttpStage] = (),
        execution_logging: bool = True,
        deployment_name: str | None = None,
    ) -> None:
        """`deployment_name` starts every dashboard, alarm and account-policy name (default: the stack's
        name); give one when two Gatewatch constructs share a stack."""
        super().__init__(scope, id)
        if not isinstance(config, GatewatchConfig):
            config = parse_config(dict(config or {}), require_apis=False)
        self.config = config
        stack = cdk.Stack.of(self)
        self.deployment = _deployment_name(deployment_name or stack.stack_name)
        targets = self._targets(rest_apis, http_apis, execution_logging)
        self.targets = tuple(targets)
        stage_specs = [
            api_alarm_specs(t.dimension, t.stage, t.thresholds, config.metric_namespace, deployment=self.deployment)
            for t in targets
        ]
        check_unique_names(
            [
                (s.name, f"the {s.key} alarm of {t.dimension}/{t.stage}")
                for t, specs in zip(targets, stage_specs, strict=True)
                for s in specs
            ]
            + [(s.name, f"gatewatch's own {s.key} alarm") for s in self._health_specs("analyzer", "notifier", "dlq")]
            + [(dashboard_name(t.dimension, self.deployment), f"the dashboard of {t.dimension}") for t in targets],
        )

        self.alerting = GatewatchAlerting(self, "Alerting", alert_email=config.alert_email)
        self.functions = GatewatchFunctions(
            self,
            "Functions",
            config=config,
            apis_json=stack.to_json_string([api_settings_entry(t.settings) for t in targets]),
            dashboard_url_prefix=dashboard_url_prefix(),
            deployment=self.deployment,
            targets=AlertingTargets(
                key=self.alerting.key,
                topic=self.alerting.topic,
                table_name=self.alerting.state_table.table_name,
                table_arn=self.alerting.state_table.table_arn,
                dead_letter_queue=self.alerting.dead_letter_queue,
            ),
        )
        self.ingestion = GatewatchIngestion(
            self,
            "Ingestion",
            mode=config.ingestion,
            sources=_log_sources(targets),
            analyzer=self.functions.analyzer,
            dead_letter_queue=self.alerting.dead_letter_queue,
            kinesis_settings=config.kinesis,
            excluded_log_group_names=[
                self.functions.analyzer_log_group.log_group_name,
                self.functions.notifier_log_group.log_group_name,
            ],
            account_policy_name=account_policy_name(self.deployment),
        )

        panels = [self._stage_panel(i, t, specs) for i, (t, specs) in enumerate(zip(targets, stage_specs, strict=True))]
        health = self.alerting.add_alarms(
            self._health_specs(
                self.functions.analyzer.function_name,
                self.functions.notifier.function_name,
                self.alerting.dead_letter_queue.queue_name,
            ),
            id_prefix="Health",
        )
        self.dashboards = GatewatchDashboards(
            self,
            "Dashboards",
            panels=panels,
            namespace=config.metric_namespace,
            health_alarms=[self._alarm_ref(a) for a in health],
            deployment=self.deployment,
        )
        self._outputs()

    def _health_specs(self, analyzer: str, notifier: str, dead_letter_queue: str) -> tuple[AlarmSpec, ...]:
        return health_alarm_specs(
            self.deployment,
            analyzer_function=analyzer,
            notifier_function=notifier,
            dead_letter_queue=dead_letter_queue,
            thresholds=self.config.health,
            namespace=self.config.metric_namespace,
        )

    # ----------------------------------------------------------------- targets

    def _targets(
        self,
        rest_apis: Sequence[apigw.RestApi | apigw.Stage],
        http_apis: Sequence[apigwv2.HttpApi | apigwv2.HttpStage],
        execution_logging: bool,
    ) -> list[_Target]:
        """The configured APIs, then the in-app REST and HTTP APIs; at least one, each (name, stage) once."""
        targets = [self._configured_target(i, api) for i, api in enumerate(self.config.apis)]
        targets += [self._rest_target(i, api, execution_logging) for i, api in enumerate(rest_apis)]
        targets += [self._http_target(i, api) for i, api in enumerate(http_apis)]
        if not targets:
            raise GatewatchConfigError(
                ["Gatewatch has no API to watch: pass rest_apis / http_apis, or list apis in the config"]
            )
        self._check_unique(targets)
        return targets

    def _stage_panel(self, i: int, target: _Target, specs: Sequence[AlarmSpec]) -> StagePanel:
        """The stage's alarms, and its dashboard panel showing them."""
        alarms = self.alerting.add_alarms(specs, id_prefix=f"Api{i}")
        access, execution = target.access_log_group, target.execution_log_group
        return StagePanel(
            api=target.dimension,
            stage=target.stage,
            access_log_group_name=access.log_group_name if access else None,
            execution_log_group_name=execution.log_group_name if execution else None,
            alarms=[self._alarm_ref(a) for a in alarms],
            access_queries=access_queries(target.access_log_format, self.config.field_map),
        )

    def _configured_target(self, i: int, api: Any) -> _Target:
        access = (
            logs.LogGroup.from_log_group_name(self, f"AccessLogs{i}", api.access_log_group)
            if api.access_log_group
            else None
        )
        execution: logs.ILogGroup | None = None
        if api.execution_logs and api.create_execution_log_group:
            # created here so gatewatch owns its retention and can subscribe before API Gateway writes
            execution = retained_log_group(
                self, f"ExecutionLogs{i}", self.config.log_retention_days, log_group_name=api.execution_log_group
            )
            cdk.Annotations.of(execution).add_info(
                f"gatewatch creates {api.execution_log_group}: the deploy fails with 'already exists' if API Gateway "
                f"has written execution logs for {api.api_id}/{api.stage} before — then set createExecutionLogGroup "
                "to false (gatewatch subscribes the existing group)"
            )
        elif api.execution_logs:
            execution = logs.LogGroup.from_log_group_name(self, f"ExecutionLogs{i}", api.execution_log_group)
        return _Target(
            api.api_id,
            api.stage,
            api.dimension,
            api.engine_settings(),
            api.thresholds,
            access,
            execution,
            api.existing_subscription_filters,
            api.access_log_format,
        )

    def _settings(
        self, api_id: str, name: str, stage: str, access: logs.ILogGroup, routes: frozenset[str] = frozenset()
    ) -> ApiSettings:
        """The API's settings (stage and access log group: Logs Insights links, attribution; its routes, as
        the app defines them: only they get a Route dimension, so its custom metrics have a ceiling)."""
        return ApiSettings(api_id=api_id, name=name, stage=stage, access_log_group=access.log_group_name, routes=routes)

    def _rest_target(self, i: int, api: apigw.RestApi | apigw.Stage, execution_logging: bool) -> _Target:
        stage = api.deployment_stage if isinstance(api, apigw.RestApi) else api
        rest_api = stage.rest_api
        name = rest_api.rest_api_name if not cdk.Token.is_unresolved(rest_api.rest_api_name) else rest_api.node.id
        cfn_stage = stage.node.default_child
        assert isinstance(cfn_stage, apigw.CfnStage)
        stage_name = _concrete_stage_name(cfn_stage.stage_name, stage.stage_name)
        access = self._access_log(
            f"RestAccessLogs{i}",
            cfn_stage,
            cfn_stage.access_log_setting,
            REST_ACCESS_LOG_VARIABLES,
            lambda arn, fmt: setattr(
                cfn_stage,
                "access_log_setting",
                apigw.CfnStage.AccessLogSettingProperty(destination_arn=arn, format=fmt),
            ),
        )
        execution = None
        if execution_logging:
            _enable_execution_logging(cfn_stage)
            execution = retained_log_group(
                self,
                f"RestExecutionLogs{i}",
                self.config.log_retention_days,
                log_group_name=execution_log_group(rest_api.rest_api_id, stage_name),
            )
            stage.node.add_dependency(execution)  # exists before API Gateway would create it
        return _Target(
            rest_api.rest_api_id,
            stage_name,
            name,
            self._settings(rest_api.rest_api_id, name, stage_name, access, rest_routes(rest_api)),
            self.config.thresholds,
            access,
            execution,
        )

    def _http_target(self, i: int, api: apigwv2.HttpApi | apigwv2.HttpStage) -> _Target:
        http_api: apigwv2.IHttpApi
        if isinstance(api, apigwv2.HttpApi):
            if api.default_stage is None:
                raise GatewatchConfigError(
                    [f"Gatewatch: HttpApi {api.node.path} has no default stage; pass its HttpStage"]
                )
            http_api, stage = api, api.default_stage
        else:
            http_api, stage = api.api, api
        name = getattr(http_api, "http_api_name", None)
        if not name or cdk.Token.is_unresolved(name):
            name = http_api.node.id
        cfn_stage = stage.node.default_child
        assert isinstance(cfn_stage, apigwv2.CfnStage)
        stage_name = _concrete_stage_name(cfn_stage.stage_name, stage.stage_name)
        access = self._access_log(
            f"HttpAccessLogs{i}",
            cfn_stage,
            cfn_stage.access_log_settings,
            HTTP_ACCESS_LOG_VARIABLES,
            lambda arn, fmt: setattr(
                cfn_stage,
                "access_log_settings",
                apigwv2.CfnStage.AccessLogSettingsProperty(destination_arn=arn, format=fmt),
            ),
        )
        return _Target(
            http_api.api_id,
            stage_name,
            name,
            self._settings(http_api.api_id, name, stage_name, access, http_routes(http_api)),
            self.config.thresholds,
            access,
            None,
        )

    def _access_log(
        self, id: str, cfn_stage: cdk.CfnResource, current: Any, variables: Sequence[str], apply: Any
    ) -> logs.ILogGroup:
        """Set the recommended format on a stage without access logging, or check the one it has."""
        if current is None:
            group = retained_log_group(
                self, id, self.config.log_retention_days, removal_policy=cdk.RemovalPolicy.RETAIN
            )  # API logs are the user's data
            apply(group.log_group_arn, recommended_access_log_format(variables))
            return group
        log_format = getattr(current, "format", None)
        destination = getattr(current, "destination_arn", None)
        if not isinstance(log_format, str) or not destination:
            raise GatewatchConfigError(
                [
                    f"Gatewatch: stage {cfn_stage.node.path} logs access without a format gatewatch "
                    "can check; set a JSON format (Gatewatch.recommended_access_log_format())"
                ]
            )
        missing = missing_access_log_variables(log_format)
        if missing:
            raise GatewatchConfigError(
                [
                    f"Gatewatch: the access-log format of stage {cfn_stage.node.path} lacks fields the classifier needs: "
                    f"{', '.join(missing)}. Add them, or drop the custom format and let Gatewatch set its recommended one "
                    "(gatewatch_construct.recommended_access_log_format())."
                ]
            )
        in_app = self._in_app_log_group(destination)
        if in_app is not None:  # refer to it by Ref, like the app's own subscription filters do
            return logs.LogGroup.from_log_group_name(self, id, in_app.ref)
        return logs.LogGroup.from_log_group_arn(self, id, destination)

    def _in_app_log_group(self, destination_arn: str) -> logs.CfnLogGroup | None:
        """The CfnLogGroup of this stack a destination ARN points at (`Fn::GetAtt [id, Arn]`), if any."""
        stack = cdk.Stack.of(self)
        resolved = stack.resolve(destination_arn)
        if not (isinstance(resolved, dict) and "Fn::GetAtt" in resolved):
            return None
        logical = resolved["Fn::GetAtt"][0]
        for node in stack.node.find_all():
            if isinstance(node, logs.CfnLogGroup) and stack.resolve(stack.get_logical_id(node)) == logical:
                return node
        return None

    @staticmethod
    def _check_unique(targets: Sequence[_Target]) -> None:
        seen: set[tuple[str, str]] = set()
        by_slug: dict[str, str] = {}
        for t in targets:
            if (t.dimension, t.stage) in seen:
                raise GatewatchConfigError(
                    [
                        f"Gatewatch: two APIs are named {t.dimension!r} with stage {t.stage!r}; "
                        "metrics, alarms and dashboards would mix — give each API its own name"
                    ]
                )
            seen.add((t.dimension, t.stage))
            other = by_slug.setdefault(slug(t.dimension), t.dimension)
            if other != t.dimension:
                raise GatewatchConfigError(
                    [
                        f"Gatewatch: the APIs named {other!r} and {t.dimension!r} both become {slug(t.dimension)!r} "
                        "in dashboard and alarm names — give them names that differ in their letters or digits"
                    ]
                )

    def _alarm_ref(self, alarm: cloudwatch.CfnAlarm) -> cloudwatch.IAlarm:
        return cloudwatch.Alarm.from_alarm_arn(self, f"{alarm.node.id}Ref", alarm.attr_arn)

    def _outputs(self) -> None:
        for i, (api, url) in enumerate(self.dashboards.urls.items()):
            cdk.CfnOutput(self, f"DashboardUrl{i}", value=url, description=f"gatewatch dashboard of {api}")
        cdk.CfnOutput(
            self,
            "AlertTopicArn",
            value=self.alerting.topic.topic_arn,
            description="SNS topic every gatewatch alert goes to (subscribe more endpoints here)",
        )
        cdk.CfnOutput(
            self,
            "DeadLetterQueueUrl",
            value=self.alerting.dead_letter_queue.queue_url,
            description="Events and alerts that failed after retries (inspect and redrive)",
        )
        if self.ingestion.stream is not None:
            cdk.CfnOutput(
                self,
                "StreamName",
                value=self.ingestion.stream.stream_name,
                description="Kinesis stream the log subscriptions feed",
            )
        if self.ingestion.cross_account_destination is not None:
            cdk.CfnOutput(
                self,
                "CrossAccountDestinationArn",
                value=self.ingestion.cross_account_destination.attr_arn,
                description="CloudWatch Logs destination other accounts subscribe their log groups to",
            )

    recommended_access_log_format = staticmethod(recommended_access_log_format)


def check_unique_names(names: Sequence[tuple[str, str]]) -> None:
    """Raise GatewatchConfigError naming both owners of every name that two resources would share.

    `names` holds (generated name, what owns it). CloudWatch would reject the second alarm or
    dashboard at deploy time — or, for dashboards, silently let one overwrite the other."""
    owners: dict[str, str] = {}
    problems = []
    for name, owner in names:
        first = owners.setdefault(name, owner)
        if first != owner:
            problems.append(
                f"Gatewatch: {first} and {owner} would both be named {name!r} — rename an API or a stage "
                "(names are built from the deployment, the API name, the stage and the alarm)"
            )
    if problems:
        raise GatewatchConfigError(problems)


def _deployment_name(name: str) -> str:
    """The literal name that starts every dashboard and alarm name (a nested stack's name is a token)."""
    if cdk.Token.is_unresolved(name):
        raise GatewatchConfigError(
            [
                "Gatewatch: the stack's name is not known at synth (a nested stack?); pass deployment_name=... "
                "(it starts every dashboard, alarm and account-policy name)"
            ]
        )
    return name


def rest_routes(rest_api: apigw.IRestApi) -> frozenset[str]:
    """The routes a REST API defines in this app ("GET /pets/{petId}", "ANY /{proxy+}"); empty when it
    is imported or defined elsewhere (an OpenAPI document): then the routeCap busiest routes are named."""
    methods = getattr(rest_api, "methods", None) or ()
    routes = set()
    for method in methods:
        path, verb = method.resource.path, method.http_method
        if cdk.Token.is_unresolved(path) or cdk.Token.is_unresolved(verb):
            return frozenset()  # a route the synth cannot read: do not list a partial set
        routes.add(normalize_route(f"{verb} {path}"))
    return frozenset(routes)


def http_routes(http_api: apigwv2.IHttpApi) -> frozenset[str]:
    """The route keys an HTTP API defines in this app ("GET /pets", "$default"); empty if none can be read."""
    keys = [c.route_key for c in http_api.node.find_all() if isinstance(c, apigwv2.CfnRoute)]
    if not keys or any(cdk.Token.is_unresolved(k) for k in keys):
        return frozenset()
    return frozenset(map(normalize_route, keys))


def _log_sources(targets: Sequence[_Target]) -> list[LogSource]:
    """Every log group of the watched stages, with the subscription filters it already has."""
    return [
        LogSource(group, t.existing_filters)
        for t in targets
        for group in (t.access_log_group, t.execution_log_group)
        if group is not None
    ]


def _concrete_stage_name(*candidates: str | None) -> str:
    """The stage's literal name (the L2 `stage_name` is a Ref; the L1 property holds the string)."""
    for name in candidates:
        if name and not cdk.Token.is_unresolved(name):
            return name
    raise GatewatchConfigError(
        [
            "Gatewatch: a stage name must be a literal string (it names the execution log group, "
            "the Stage metric dimension and the alarms)"
        ]
    )


def _enable_execution_logging(cfn_stage: apigw.CfnStage) -> None:
    """INFO execution logging on every method of the stage, unless the stage already logs at INFO or ERROR.

    Data tracing (full request/response bodies) stays off: gatewatch needs the cause lines, not payloads.
    """
    current = cfn_stage.method_settings
    settings = list(current) if isinstance(current, list) else []
    for i, item in enumerate(settings):
        values = dict(getattr(item, "_values", {}))
        if values.get("http_method") == "*" and values.get("resource_path") == "/*":
            if values.get("logging_level") not in ("INFO", "ERROR"):
                values["logging_level"] = "INFO"
                settings[i] = apigw.CfnStage.MethodSettingProperty(**values)
            cfn_stage.method_settings = settings
            return
    settings.append(
        apigw.CfnStage.MethodSettingProperty(
            http_method="*", resource_path="/*", logging_level="INFO", data_trace_enabled=False
        )
    )
    cfn_stage.method_settings = settings


__all__ = [
    "HTTP_ACCESS_LOG_VARIABLES",
    "REQUIRED_ACCESS_LOG_VARIABLES",
    "REST_ACCESS_LOG_VARIABLES",
    "Gatewatch",
    "check_unique_names",
    "missing_access_log_variables",
    "recommended_access_log_format",
]
