"""Config validation: every mistake gets its own clear message (one test per message)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from stacks.config import GatewatchConfigError, IngestionMode, load_config, parse_config
from tests.infra.conftest import example_config


def _api(**changes: Any) -> Callable[[dict], None]:
    def apply(raw: dict) -> None:
        for key, value in changes.items():
            if value is _DROP:
                raw["apis"][0].pop(key, None)
            else:
                raw["apis"][0][key] = value

    return apply


def _top(**changes: Any) -> Callable[[dict], None]:
    def apply(raw: dict) -> None:
        raw.update(changes)

    return apply


_DROP = object()

CASES: list[tuple[str, Callable[[dict], None], str]] = [
    ("unknown-top-key", _top(alertEmal="x@example.com"), "gatewatch.alertEmal: unknown key"),
    ("apis-not-list", _top(apis={"apiId": "a1b2c3d4e5"}), "gatewatch.apis must be a list"),
    ("apis-empty", _top(apis=[]), "gatewatch.apis is empty: list at least one API"),
    ("api-not-object", _top(apis=["a1b2c3d4e5"]), "gatewatch.apis[0] must be an object"),
    ("api-unknown-key", _api(accesLogGroup="/x"), "gatewatch.apis[0].accesLogGroup: unknown key"),
    ("api-id-missing", _api(apiId=_DROP), "gatewatch.apis[0].apiId is missing"),
    ("api-id-invalid", _api(apiId="Orders-API"), "gatewatch.apis[0].apiId must be the 10-character API id"),
    ("stage-missing", _api(stage=_DROP), "gatewatch.apis[0].stage is missing"),
    ("stage-invalid", _api(stage="prod stage"), "gatewatch.apis[0].stage must be a stage name"),
    ("name-invalid", _api(name=""), "gatewatch.apis[0].name must be a non-empty string"),
    (
        "log-group-invalid",
        _api(accessLogGroup="my logs!"),
        "gatewatch.apis[0].accessLogGroup: 'my logs!' is not a log group name",
    ),
    ("execution-logs-not-bool", _api(executionLogs="yes"), "gatewatch.apis[0].executionLogs must be true or false"),
    (
        "create-without-execution",
        _api(executionLogs=False, createExecutionLogGroup=True),
        "createExecutionLogGroup is true but executionLogs is false",
    ),
    (
        "no-logs",
        _api(accessLogGroup=_DROP, executionLogs=False, createExecutionLogGroup=_DROP),
        "gatewatch.apis[0] has no logs to read",
    ),
    ("timeout-range", _api(integrationTimeoutMs=10), "gatewatch.apis[0].integrationTimeoutMs must be an integer >= 50"),
    (
        "timeout-type",
        _api(integrationTimeoutMs="29s"),
        "gatewatch.apis[0].integrationTimeoutMs must be an integer, got '29s'",
    ),
    (
        "existing-filters-range",
        _api(existingSubscriptionFilters=3),
        "existingSubscriptionFilters must be an integer >= 0 and <= 2",
    ),
    ("api-threshold-unknown", _api(thresholds={"p90": 1}), "gatewatch.apis[0].thresholds.p90: unknown key"),
    (
        "threshold-rate-range",
        _top(thresholds={"error5xxRatePct": 150}),
        "gatewatch.thresholds.error5xxRatePct must be a number > 0 and <= 100",
    ),
    (
        "threshold-periods-int",
        _top(thresholds={"error4xxPeriods": 2.5}),
        "gatewatch.thresholds.error4xxPeriods must be an integer",
    ),
    (
        "duplicate-api-stage",
        lambda raw: raw["apis"].append(dict(raw["apis"][0])),
        "a1b2c3d4e5/prod is already listed at apis[0]",
    ),
    (
        "duplicate-name",
        lambda raw: raw["apis"].append({**raw["apis"][0], "apiId": "zzzzzzzzzz"}),
        "name 'orders' with stage 'prod' is already used by apis[0]",
    ),
    (
        "same-api-different-settings",
        lambda raw: raw["apis"].append({**raw["apis"][0], "stage": "dev", "integrationTimeoutMs": 5000}),
        "API a1b2c3d4e5 is also listed at apis[0] with a different name, integrationTimeoutMs or slowMs",
    ),
    (
        "ingestion-unknown",
        _top(ingestion="firehose"),
        "gatewatch.ingestion must be one of subscription, account-policy, kinesis",
    ),
    (
        "kinesis-without-mode",
        _top(kinesis={"shardCount": 2}),
        "gatewatch.kinesis is set but ingestion is 'subscription'",
    ),
    (
        "kinesis-parallelization",
        _top(ingestion="kinesis", kinesis={"parallelizationFactor": 11}),
        "gatewatch.kinesis.parallelizationFactor must be an integer >= 1 and <= 10",
    ),
    (
        "kinesis-removal-policy",
        _top(ingestion="kinesis", kinesis={"removalPolicy": "snapshot"}),
        "gatewatch.kinesis.removalPolicy must be 'destroy' or 'retain'",
    ),
    (
        "kinesis-accounts",
        _top(ingestion="kinesis", kinesis={"sourceAccounts": ["123"]}),
        "gatewatch.kinesis.sourceAccounts must be a list of 12-digit",
    ),
    (
        "slack-both",
        _top(slack={"webhookSecretName": "a", "botTokenSecretName": "b", "channel": "#x"}),
        "give webhookSecretName or botTokenSecretName, not both",
    ),
    ("slack-bot-without-channel", _top(slack={"botTokenSecretName": "b"}), "gatewatch.slack.channel is missing"),
    ("slack-secret-name", _top(slack={"webhookSecretName": "my secret"}), "is not a Secrets Manager secret name"),
    ("email", _top(alertEmail="oncall"), "gatewatch.alertEmail: 'oncall' is not an e-mail address"),
    ("namespace-reserved", _top(metricNamespace="AWS/ApiGateway"), "must not start with 'AWS/'"),
    ("retention", _top(logRetentionDays=10), "gatewatch.logRetentionDays must be one of CloudWatch's periods"),
    ("alert-categories", _top(alertCategories=["TIMEOUT"]), "gatewatch.alertCategories: unknown category ['TIMEOUT']"),
    ("cooldown", _top(alertCooldownSeconds=5), "gatewatch.alertCooldownSeconds must be an integer >= 60"),
    ("field-map", _top(fieldMap={"rt": 1}), "gatewatch.fieldMap must map your access-log field names"),
    ("health-unknown", _top(health={"dlq": 1}), "gatewatch.health.dlq: unknown key"),
    (
        "health-suspicious-rate",
        _top(health={"suspiciousRatePct": 150}),
        "gatewatch.health.suspiciousRatePct must be a number > 0 and <= 100",
    ),
    ("routes-not-a-list", _api(routes="GET /pets"), 'gatewatch.apis[0].routes must be a list of routes such as "GET'),
    ("routes-no-path", _api(routes=["GET pets"]), "gatewatch.apis[0].routes: 'GET pets' is not \"METHOD /path\""),
]


@pytest.mark.parametrize(("mistake", "expected"), [(m, e) for _, m, e in CASES], ids=[c[0] for c in CASES])
def test_each_mistake_is_reported_with_its_own_message(mistake, expected):
    # GIVEN the example config with exactly one mistake
    raw = example_config()
    mistake(raw)
    # WHEN it is validated THEN exactly one problem is reported, naming the key and the fix
    with pytest.raises(GatewatchConfigError) as err:
        parse_config(raw)
    assert len(err.value.problems) == 1, err.value.problems
    assert expected in err.value.problems[0]


def test_several_mistakes_are_all_listed_at_once():
    raw = example_config()
    raw["ingestion"] = "firehose"
    raw["alertEmail"] = "oncall"
    raw["apis"][1]["stage"] = "bad stage"
    with pytest.raises(GatewatchConfigError) as err:
        parse_config(raw)
    assert len(err.value.problems) == 3
    assert "3 problem(s)" in str(err.value)


def test_config_that_is_not_an_object_is_rejected():
    with pytest.raises(GatewatchConfigError, match="must be a JSON object"):
        parse_config(["a1b2c3d4e5"])


def test_missing_context_says_where_to_put_the_config():
    with pytest.raises(GatewatchConfigError, match=re.escape('add a "gatewatch" object to the context in cdk.json')):
        load_config(None)


def test_config_file_named_by_the_context_is_read(tmp_path):
    (tmp_path / "mine.json").write_text(json.dumps(example_config()))
    config = load_config("mine.json", base_dir=tmp_path)
    assert [a.dimension for a in config.apis] == ["orders", "users"]


def test_unreadable_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(GatewatchConfigError, match="cannot read the config file"):
        load_config("absent.json", base_dir=tmp_path)


def test_config_file_with_invalid_json_points_at_the_position(tmp_path):
    (tmp_path / "bad.json").write_text('{"apis": [}')
    with pytest.raises(GatewatchConfigError, match=r"not valid JSON: .* at line 1 column 11"):
        load_config("bad.json", base_dir=tmp_path)


def test_an_apis_routes_reach_the_analyzer_normalised():
    raw = example_config()
    raw["apis"][0]["routes"] = ["get /pets/{petId}", "ANY /{proxy+}", "$default"]
    (entry, *_rest) = json.loads(parse_config(raw).engine_apis_json())
    assert entry["routes"] == ["$default", "ANY /{proxy+}", "GET /pets/{petId}"]


def test_the_documented_example_is_valid_and_uses_the_defaults_it_does_not_set():
    config = parse_config(example_config())
    assert config.ingestion is IngestionMode.SUBSCRIPTION
    orders, users = config.apis
    assert orders.thresholds.latency_p90_ms == 1500 and users.thresholds.latency_p90_ms == 2500
    assert orders.thresholds.error5xx_periods == 3 and orders.thresholds.error4xx_periods == 5
    assert orders.execution_log_group == "API-Gateway-Execution-Logs_a1b2c3d4e5/prod"
    assert users.execution_logs is False and users.integration_timeout_ms == 29000
    assert config.slack.webhook_secret_name == "gatewatch/slack-webhook"
