"""Where alerts go and what remembers them: the key, the SNS topic, the state table, the dead-letter
queue, and the CloudWatch alarms built from `stacks.monitoring.alarm_specs` (through `stacks.monitoring.factory`).

Why alarms are L1 `CfnAlarm`s made from specs: `AlarmSpec` already says exactly what CloudWatch
stores (metrics, metric math, comparison, datapoints, missing-data treatment). Mapping it one to one
keeps the deployed alarms and the local demo's evaluation of the same specs identical.
"""

from __future__ import annotations

from collections.abc import Iterable

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.monitoring.alarm_specs import AlarmSpec
from stacks.monitoring.factory import AlarmMetricProps, anomaly_props, math_props, single_metric_props

STATE_TABLE_PARTITION_KEY = "pk"
STATE_TABLE_TTL_ATTRIBUTE = "expires_at"
ANOMALY_BAND_ID = "band"


class GatewatchAlerting(Construct):
    """KMS key, SNS topic (TLS only), DynamoDB state table, SQS dead-letter queue, and the alarms."""

    def __init__(self, scope: Construct, id: str, *, alert_email: str | None = None) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            enable_key_rotation=True,
            description="gatewatch: encrypts the alert topic and the dead-letter queue",
            removal_policy=cdk.RemovalPolicy.DESTROY,
            pending_window=cdk.Duration.days(7),
        )
        # CloudWatch alarms publish to the encrypted topic with the key (scoped to this account's alarms)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # "*" in a key policy = this key
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        cdk.Validations.of(self.dead_letter_queue).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is the dead-letter queue itself (on-failure destination of both functions and of "
                "the Kinesis event source mapping); a DLQ of a DLQ would only move the problem.",
            )
        )

        self.topic = sns.Topic(
            self, "AlertTopic", display_name="gatewatch alerts", master_key=self.key, enforce_ssl=True
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        if alert_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alert_email))

        self.state_table = dynamodb.Table(
            self,
            "StateTable",
            partition_key=dynamodb.Attribute(name=STATE_TABLE_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=STATE_TABLE_TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=cdk.RemovalPolicy.DESTROY,  # dedupe windows and alert state only: nothing to keep
        )
        self.alarms: list[cloudwatch.CfnAlarm] = []

    def add_alarms(self, specs: Iterable[AlarmSpec], id_prefix: str) -> list[cloudwatch.CfnAlarm]:
        """One CloudWatch alarm per spec; ALARM and OK both notify the topic (Slack shows the recovery)."""
        created = [self._alarm(spec, f"{id_prefix}{_construct_id(spec.key)}") for spec in specs]
        self.alarms.extend(created)
        return created

    def _alarm(self, spec: AlarmSpec, id: str) -> cloudwatch.CfnAlarm:
        actions = [self.topic.topic_arn]
        reads = _alarm_reads(spec)
        return cloudwatch.CfnAlarm(
            self,
            id,
            alarm_name=spec.name,
            alarm_description=spec.description,
            comparison_operator=spec.comparison.value,
            evaluation_periods=spec.evaluation_periods,
            datapoints_to_alarm=spec.datapoints_to_alarm,
            treat_missing_data=spec.treat_missing_data.value,
            alarm_actions=actions,
            ok_actions=actions,
            actions_enabled=True,
            threshold=None if spec.is_anomaly else spec.threshold,  # a band alarm compares against the band
            namespace=reads.namespace,
            metric_name=reads.metric_name,
            dimensions=reads.dimensions,
            period=reads.period,
            statistic=reads.statistic,
            extended_statistic=reads.extended_statistic,
            metrics=reads.metrics,
            threshold_metric_id=reads.threshold_metric_id,
        )


def _alarm_reads(spec: AlarmSpec) -> AlarmMetricProps:
    """What the alarm reads: its metric's anomaly band, its expression, or its metric."""
    metric, math = spec.metric, spec.math
    if metric is not None and spec.anomaly_band is not None:
        return anomaly_props(metric, spec.anomaly_band, band_id=ANOMALY_BAND_ID)
    if math is not None:
        return math_props(math)
    if metric is None:  # AlarmSpec guarantees a metric or an expression
        raise ValueError(f"alarm {spec.key} reads no metric")
    return single_metric_props(metric)


def _construct_id(key: str) -> str:
    return "".join(part[:1].upper() + part[1:].lower() for part in key.replace("_", "-").split("-")) + "Alarm"


__all__ = ["STATE_TABLE_PARTITION_KEY", "STATE_TABLE_TTL_ATTRIBUTE", "GatewatchAlerting"]
