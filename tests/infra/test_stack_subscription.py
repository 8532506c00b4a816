"""The standalone stack with the documented example config (ingestion `subscription`): functions,
subscriptions, alerting, alarms, dashboards, outputs and least privilege."""

from __future__ import annotations

import json

from aws_cdk.assertions import Template

from gatewatch import constants as C
from gatewatch.naming import alarm_name, dashboard_name
from stacks.config import parse_config
from stacks.monitoring.alarm_specs import api_alarm_specs, health_alarm_specs
from tests.infra.conftest import logical_id, only, resources


def _function(template: Template, handler: str) -> tuple[str, dict]:
    fid = logical_id(template, "AWS::Lambda::Function", lambda r: r["Properties"]["Handler"] == handler)
    return fid, resources(template, "AWS::Lambda::Function")[fid]["Properties"]


def test_both_functions_run_the_current_python_on_arm64_with_sized_memory(subscription_template):
    # GIVEN the example stack WHEN synthesized THEN analyzer and notifier are arm64 Python 3.14 functions
    for handler, memory in (("analyzer.handler.lambda_handler", 512), ("notifier.handler.lambda_handler", 256)):
        _, props = _function(subscription_template, handler)
        assert props["Runtime"] == "python3.14"
        assert props["Architectures"] == ["arm64"]
        assert props["MemorySize"] == memory
        assert props["Timeout"] == 60


def test_analyzer_environment_follows_the_handler_contract(subscription_template, example):
    _, props = _function(subscription_template, "analyzer.handler.lambda_handler")
    env = props["Environment"]["Variables"]
    apis = json.loads(env[C.ENV_APIS])
    assert [a["apiId"] for a in apis] == [a["apiId"] for a in example["apis"]]
    assert apis[0]["name"] == "orders" and apis[0]["integrationTimeoutMs"] == 29000
    assert env[C.ENV_ALERT_TOPIC_ARN] == {"Ref": logical_id(subscription_template, "AWS::SNS::Topic")}
    assert env[C.ENV_STATE_TABLE] == {"Ref": logical_id(subscription_template, "AWS::DynamoDB::Table")}
    assert env[C.ENV_METRICS_NAMESPACE] == "Gatewatch"
    assert env["POWERTOOLS_SERVICE_NAME"] == "gatewatch"
    assert set(env[C.ENV_ALERT_CATEGORIES].split(",")) == {
        "INTEGRATION_PERMISSION",
        "CONFIGURATION_ERROR",
        "AUTHORIZER_ERROR",
        "MALFORMED_RESPONSE",
    }
    assert "dashboards/dashboard/" in json.dumps(env[C.ENV_DASHBOARD_URL])


def test_notifier_gets_the_slack_secret_name_and_may_read_only_that_secret(subscription_template):
    _nid, props = _function(subscription_template, "notifier.handler.lambda_handler")
    assert props["Environment"]["Variables"][C.ENV_SLACK_SECRET] == "gatewatch/slack-webhook"
    role_id = props["Role"]["Fn::GetAtt"][0]
    policy = next(
        p
        for p in resources(subscription_template, "AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": role_id}]
    )
    secret = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "secretsmanager:GetSecretValue"
    ]
    assert len(secret) == 1
    assert json.dumps(secret[0]["Resource"]).endswith(':secret:gatewatch/slack-webhook-??????"]]}')


def test_each_function_logs_to_its_own_group_with_retention(subscription_template):
    groups = resources(subscription_template, "AWS::Logs::LogGroup")
    for handler in ("analyzer.handler.lambda_handler", "notifier.handler.lambda_handler"):
        _, props = _function(subscription_template, handler)
        group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group_id]["Properties"]["RetentionInDays"] == 30


def test_both_functions_send_failed_async_events_to_the_encrypted_dlq(subscription_template):
    queue_id = logical_id(subscription_template, "AWS::SQS::Queue")
    queue = resources(subscription_template, "AWS::SQS::Queue")[queue_id]["Properties"]
    assert "KmsMasterKeyId" in queue
    configs = resources(subscription_template, "AWS::Lambda::EventInvokeConfig")
    assert len(configs) == 2
    for config in configs.values():
        props = config["Properties"]
        assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        assert props["MaximumRetryAttempts"] == 2
    # TLS only on the queue
    policy = only(subscription_template, "AWS::SQS::QueuePolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy)


def test_access_and_execution_log_groups_are_subscribed_with_one_shared_permission(subscription_template):
    analyzer_id, _ = _function(subscription_template, "analyzer.handler.lambda_handler")
    filters = resources(subscription_template, "AWS::Logs::SubscriptionFilter")
    names = sorted(json.dumps(f["Properties"]["LogGroupName"]) for f in filters.values())
    assert len(filters) == 3  # orders access + orders execution + users access
    assert '"/aws/apigateway/orders-prod-access"' in names and '"/aws/apigateway/users-http-access"' in names
    for f in filters.values():
        assert f["Properties"]["DestinationArn"] == {"Fn::GetAtt": [analyzer_id, "Arn"]}
        assert f["Properties"]["FilterPattern"] == ""
    permissions = [
        p["Properties"]
        for p in resources(subscription_template, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "logs.amazonaws.com"
    ]
    assert len(permissions) == 1
    assert permissions[0]["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert json.dumps(permissions[0]["SourceArn"]).endswith(':log-group:*"]]}')


def test_the_example_subscribes_the_existing_execution_log_group_without_creating_it(subscription_template):
    # GIVEN the example, for a stage whose execution logging is already on (as deploy.md asks first):
    # API Gateway created API-Gateway-Execution-Logs_a1b2c3d4e5/prod, and creating it again fails the deploy
    execution = "API-Gateway-Execution-Logs_a1b2c3d4e5/prod"
    # THEN the stack creates no log group of that name
    named = [
        g["Properties"].get("LogGroupName") for g in resources(subscription_template, "AWS::Logs::LogGroup").values()
    ]
    assert execution not in named
    # AND subscribes the group by its name, after the shared permission
    (filt,) = [
        f
        for f in resources(subscription_template, "AWS::Logs::SubscriptionFilter").values()
        if f["Properties"]["LogGroupName"] == execution
    ]
    assert filt["DependsOn"]


def test_alert_topic_is_kms_encrypted_tls_only_and_feeds_notifier_and_email(subscription_template):
    topic_id = logical_id(subscription_template, "AWS::SNS::Topic")
    assert "KmsMasterKeyId" in only(subscription_template, "AWS::SNS::Topic")["Properties"]
    statements = only(subscription_template, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    assert any(
        s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} and s["Action"] == "sns:Publish"
        for s in statements
    )
    protocols = {
        s["Properties"]["Protocol"]: s["Properties"]
        for s in resources(subscription_template, "AWS::SNS::Subscription").values()
    }
    assert set(protocols) == {"lambda", "email"}
    assert protocols["email"]["Endpoint"] == "oncall@example.com"
    assert all(p["TopicArn"] == {"Ref": topic_id} for p in protocols.values())


def test_state_table_matches_the_handlers_contract(subscription_template):
    subscription_template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    )


def test_key_rotates_and_lets_cloudwatch_alarms_use_the_encrypted_topic(subscription_template):
    key = only(subscription_template, "AWS::KMS::Key")["Properties"]
    assert key["EnableKeyRotation"] is True
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in key["KeyPolicy"]["Statement"])


def test_every_alarm_spec_becomes_one_alarm_notifying_the_topic(subscription_template, example):
    config = parse_config(example)
    expected = {
        s.name
        for api in config.apis
        for s in api_alarm_specs(api.dimension, api.stage, api.thresholds, deployment="Gatewatch")
    }
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources(subscription_template, "AWS::CloudWatch::Alarm").values()
    }
    assert expected <= set(alarms)
    health = [n for n in alarms if n.startswith("Gatewatch-health-")]
    assert len(health) == len(
        health_alarm_specs("x", analyzer_function="a", notifier_function="n", dead_letter_queue="q")
    )
    topic = {"Ref": logical_id(subscription_template, "AWS::SNS::Topic")}
    assert all(a["AlarmActions"] == [topic] and a["OKActions"] == [topic] for a in alarms.values())


def test_per_api_thresholds_reach_the_alarms(subscription_template):
    props = subscription_template.find_resources(
        "AWS::CloudWatch::Alarm",
        {"Properties": {"AlarmName": alarm_name("orders", "prod", "p90-latency", "Gatewatch")}},
    )
    (alarm,) = props.values()
    assert alarm["Properties"]["Threshold"] == 1500  # the example's per-API override
    assert alarm["Properties"]["ExtendedStatistic"] == "p90"
    (users,) = subscription_template.find_resources(
        "AWS::CloudWatch::Alarm",
        {"Properties": {"AlarmName": alarm_name("users", "$default", "p90-latency", "Gatewatch")}},
    ).values()
    assert users["Properties"]["Threshold"] == 2500  # the default


def test_error_rate_alarm_is_metric_math_over_requests_and_errors(subscription_template):
    (alarm,) = subscription_template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"AlarmName": alarm_name("orders", "prod", "5xx-rate", "Gatewatch")}}
    ).values()
    props = alarm["Properties"]
    assert (props["Threshold"], props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (5, 3, 3)
    queries = {q["Id"]: q for q in props["Metrics"]}
    assert "100 * FILL(errors, 0) / requests" in queries["result"]["Expression"]
    assert queries["errors"]["MetricStat"]["Metric"]["MetricName"] == "Errors5xx"
    assert queries["requests"]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "Api", "Value": "orders"},
        {"Name": "Stage", "Value": "prod"},
    ]


def test_anomaly_alarms_use_a_detection_band(subscription_template):
    (alarm,) = subscription_template.find_resources(
        "AWS::CloudWatch::Alarm",
        {"Properties": {"AlarmName": alarm_name("orders", "prod", "requests-anomaly", "Gatewatch")}},
    ).values()
    props = alarm["Properties"]
    assert props["ThresholdMetricId"] == "band"
    assert props["ComparisonOperator"] == "LessThanLowerOrGreaterThanUpperThreshold"
    assert any(q.get("Expression") == "ANOMALY_DETECTION_BAND(requests, 2)" for q in props["Metrics"])


def test_one_dashboard_per_api_with_every_panel(subscription_template):
    boards = resources(subscription_template, "AWS::CloudWatch::Dashboard")
    names = sorted(b["Properties"]["DashboardName"] for b in boards.values())
    assert names == sorted([dashboard_name("orders", "Gatewatch"), dashboard_name("users", "Gatewatch")])
    body = json.dumps(
        next(b for b in boards.values() if b["Properties"]["DashboardName"] == "Gatewatch-orders")["Properties"][
            "DashboardBody"
        ]
    )
    for title in (
        "Requests and error rate",
        "Errors by category",
        "Causes (execution logs)",
        "429: quota vs throttle",
        "Latency p50 / p90 / p99",
        "Integration latency vs gateway overhead",
        "Near-timeouts",
        "Top failing routes",
        "Recent failing requests",
        "Alarms of orders / prod",
        "gatewatch health",
    ):
        assert title in body, title
    assert "/aws/apigateway/orders-prod-access" in body  # Logs Insights over the access log group
    assert "SEARCH(" in body and "Category" in body  # errors by category: whatever categories appear
    # the health row graphs what was set aside and what was read distrustfully, not only parse failures
    for label in ("set aside: other", "set aside: out-of-window", "suspicious: access"):
        assert label in body, label
    assert "LinesSuspicious" in body


def test_outputs_dashboard_urls_topic_and_dlq(subscription_template):
    outputs = subscription_template.find_outputs("*")
    described = " ".join(o.get("Description", "") for o in outputs.values())
    assert sum(1 for k in outputs if k.startswith("GatewatchDashboardUrl")) == 2
    assert "SNS topic" in described and "failed after retries" in described
    url = json.dumps(next(o["Value"] for k, o in outputs.items() if k.startswith("GatewatchDashboardUrl0")))
    assert "#dashboards/dashboard/Gatewatch-orders" in url


def test_roles_have_no_managed_policy_and_no_wildcard_action(subscription_template):
    for role in resources(subscription_template, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
    for policy in resources(subscription_template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any("*" in a for a in actions), actions
            assert statement["Resource"] != "*"
            assert "cloudwatch:PutMetricData" not in actions  # EMF goes through the log group
