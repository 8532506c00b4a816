"""The two other ingestion modes: the account-level subscription policy and the Kinesis stream."""

from __future__ import annotations

import json

from aws_cdk.assertions import Template

from tests.infra.conftest import KINESIS_SETTINGS, build_stack, example_config, logical_id, only, resources, template_of


def _analyzer_id(template: Template) -> str:
    return logical_id(
        template, "AWS::Lambda::Function", lambda r: r["Properties"]["Handler"] == "analyzer.handler.lambda_handler"
    )


def _role_statements(template: Template, function_id: str) -> list[dict]:
    role_id = resources(template, "AWS::Lambda::Function")[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    policy = next(
        p for p in resources(template, "AWS::IAM::Policy").values() if p["Properties"]["Roles"] == [{"Ref": role_id}]
    )
    return policy["Properties"]["PolicyDocument"]["Statement"]


# ----------------------------------------------------------------------------- account-level policy


def test_account_policy_sends_every_log_group_to_the_analyzer_except_gatewatchs_own(account_policy_template):
    analyzer = _analyzer_id(account_policy_template)
    policy = only(account_policy_template, "AWS::Logs::AccountPolicy")["Properties"]
    assert policy["PolicyType"] == "SUBSCRIPTION_FILTER_POLICY" and policy["Scope"] == "ALL"
    document = json.dumps(policy["PolicyDocument"])
    assert "DestinationArn" in document and analyzer in document
    criteria = json.dumps(policy["SelectionCriteria"])
    assert criteria.startswith('{"Fn::Join"') and "LogGroupName NOT IN [" in criteria
    function_groups = [
        f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        for f in resources(account_policy_template, "AWS::Lambda::Function").values()
    ]
    assert len(function_groups) == 2
    for group in function_groups:  # the analyzer and notifier log groups are excluded (no feedback loop)
        assert json.dumps({"Ref": group}) in criteria


def test_account_policy_mode_has_no_per_group_filters_and_one_permission(account_policy_template):
    assert resources(account_policy_template, "AWS::Logs::SubscriptionFilter") == {}
    permissions = {
        pid: p
        for pid, p in resources(account_policy_template, "AWS::Lambda::Permission").items()
        if p["Properties"]["Principal"] == "logs.amazonaws.com"
    }
    assert len(permissions) == 1
    ((permission_id, permission),) = permissions.items()
    assert permission["Properties"]["SourceAccount"] == {"Ref": "AWS::AccountId"}
    # the policy is created only once CloudWatch Logs may invoke the analyzer
    policy_id = logical_id(account_policy_template, "AWS::Logs::AccountPolicy")
    assert permission_id in resources(account_policy_template, "AWS::Logs::AccountPolicy")[policy_id]["DependsOn"]


# ----------------------------------------------------------------------------- kinesis


def test_kinesis_stream_is_kms_encrypted_with_the_configured_shards(kinesis_template):
    stream = only(kinesis_template, "AWS::Kinesis::Stream")["Properties"]
    assert stream["ShardCount"] == KINESIS_SETTINGS["shardCount"]
    assert stream["StreamEncryption"] == {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}


def test_kinesis_stream_is_deleted_with_the_stack_by_default(kinesis_template):
    # GIVEN no kinesis.removalPolicy WHEN the stack is deleted THEN so is the stream (no shard-hours after)
    stream = only(kinesis_template, "AWS::Kinesis::Stream")
    assert (stream["DeletionPolicy"], stream["UpdateReplacePolicy"]) == ("Delete", "Delete")


def test_kinesis_stream_is_kept_when_the_config_says_retain():
    # GIVEN kinesis.removalPolicy "retain"
    raw = example_config()
    raw["ingestion"] = "kinesis"
    raw["kinesis"] = {"removalPolicy": "retain"}
    # WHEN synthesized THEN CloudFormation keeps the stream when the stack is deleted or replaces it
    stream = only(template_of(build_stack(raw)), "AWS::Kinesis::Stream")
    assert (stream["DeletionPolicy"], stream["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_an_execution_log_group_the_config_asks_for_is_created_with_retention_and_subscribed(kinesis_template):
    # GIVEN createExecutionLogGroup on apis[0] (a stage that has never written execution logs)
    groups = {
        k: g["Properties"]
        for k, g in resources(kinesis_template, "AWS::Logs::LogGroup").items()
        if g["Properties"].get("LogGroupName") == "API-Gateway-Execution-Logs_a1b2c3d4e5/prod"
    }
    # THEN the stack owns it, with the configured retention, and subscribes it by reference
    ((group_id, props),) = groups.items()
    assert props["RetentionInDays"] == 30
    filters = resources(kinesis_template, "AWS::Logs::SubscriptionFilter").values()
    assert any(f["Properties"]["LogGroupName"] == {"Ref": group_id} for f in filters)


def test_subscriptions_feed_the_stream_through_a_scoped_role(kinesis_template):
    stream_id = logical_id(kinesis_template, "AWS::Kinesis::Stream")
    filters = resources(kinesis_template, "AWS::Logs::SubscriptionFilter")
    assert len(filters) == 3
    role_ids = {f["Properties"]["RoleArn"]["Fn::GetAtt"][0] for f in filters.values()}
    assert len(role_ids) == 1
    for f in filters.values():
        assert f["Properties"]["DestinationArn"] == {"Fn::GetAtt": [stream_id, "Arn"]}
        assert f["Properties"]["Distribution"] == "Random"
    (role_id,) = role_ids
    role = resources(kinesis_template, "AWS::IAM::Role")[role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "logs.amazonaws.com"}
    assert "aws:SourceArn" in json.dumps(role["AssumeRolePolicyDocument"])
    policy = next(
        p
        for p in resources(kinesis_template, "AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": role_id}]
    )
    actions = {
        a
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert actions == {"kinesis:PutRecord", "kinesis:PutRecords"}
    # no Lambda permission for CloudWatch Logs in this mode: the stream is the destination
    assert not [
        p
        for p in resources(kinesis_template, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "logs.amazonaws.com"
    ]


def test_event_source_mapping_batches_bisects_reports_failures_and_parallelises(kinesis_template):
    mapping = only(kinesis_template, "AWS::Lambda::EventSourceMapping")["Properties"]
    assert mapping["FunctionName"] == {"Ref": _analyzer_id(kinesis_template)}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [logical_id(kinesis_template, "AWS::Kinesis::Stream"), "Arn"]}
    assert mapping["BatchSize"] == KINESIS_SETTINGS["batchSize"]
    assert mapping["MaximumBatchingWindowInSeconds"] == KINESIS_SETTINGS["maxBatchingWindowSeconds"]
    assert mapping["ParallelizationFactor"] == KINESIS_SETTINGS["parallelizationFactor"]
    assert mapping["MaximumRetryAttempts"] == KINESIS_SETTINGS["retryAttempts"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = logical_id(kinesis_template, "AWS::SQS::Queue")
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue, "Arn"]}


def test_analyzer_may_read_the_stream_and_nothing_more_on_it(kinesis_template):
    statements = _role_statements(kinesis_template, _analyzer_id(kinesis_template))
    stream_id = logical_id(kinesis_template, "AWS::Kinesis::Stream")
    read = [s for s in statements if s["Resource"] == {"Fn::GetAtt": [stream_id, "Arn"]}]
    assert len(read) == 1
    assert set(read[0]["Action"]) == {
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
    }


def test_cross_account_destination_admits_only_the_listed_accounts(kinesis_template):
    destination = only(kinesis_template, "AWS::Logs::Destination")["Properties"]
    text = json.dumps(destination["DestinationPolicy"])
    assert "444455556666" in text and "logs:PutSubscriptionFilter" in text
    assert destination["TargetArn"] == {"Fn::GetAtt": [logical_id(kinesis_template, "AWS::Kinesis::Stream"), "Arn"]}
    outputs = kinesis_template.find_outputs("*")
    assert any(k.startswith("GatewatchCrossAccountDestinationArn") for k in outputs)
    assert any(k.startswith("GatewatchStreamName") for k in outputs)
