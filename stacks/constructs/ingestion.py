"""How API Gateway log lines reach the analyzer — three modes (docs/deploy.md compares them).

- `subscription`: one subscription filter per log group, straight to the analyzer, and ONE Lambda
  permission (source account + log-group ARN pattern) for all of them. One permission per group
  would grow the function's resource policy past its 20 KB cap at ~50-60 groups.
- `account-policy`: one account-level subscription filter policy (CfnAccountPolicy) sends every log
  group of the account to the analyzer, except gatewatch's own (which would otherwise feed its own
  output back to itself forever). Policies can only exclude by name, one per account and region.
- `kinesis`: subscription filters -> a Kinesis stream (encrypted with aws/kinesis) -> an event source mapping with
  batching, bisect-on-error, partial batch responses and parallelisation. For high volume, and as
  a cross-account log destination.

A log group accepts at most two subscription filters; `SubscriptionFilterBudget` warns at synth
when gatewatch's filter would be a third (counting the filters of the app and those the config
says already exist).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces.aws_logs import ILogGroupRef
from constructs import Construct, IConstruct

from stacks.config import MAX_SUBSCRIPTION_FILTERS, IngestionMode, KinesisSettings

SUBSCRIPTION_FILTER_LIMIT_WARNING = "gatewatch:subscription-filter-limit"


@dataclass(frozen=True)
class LogSource:
    """A log group gatewatch subscribes to. `existing_filters`: filters it has outside this app."""

    log_group: logs.ILogGroup
    existing_filters: int = 0


@jsii.implements(logs.ILogSubscriptionDestination)
class _Destination:
    """A subscription destination that grants nothing by itself (permissions are written explicitly)."""

    def __init__(self, arn: str, role: iam.IRole | None = None) -> None:
        self.arn = arn
        self.role = role

    def bind(self, scope: Construct, source_log_group: ILogGroupRef) -> logs.LogSubscriptionDestinationConfig:
        return logs.LogSubscriptionDestinationConfig(arn=self.arn, role=self.role)


@jsii.implements(lambda_.IEventSourceDlq)
class _QueueOnFailure:
    """The event source mapping's on-failure destination, without SqsDlq's wildcard KMS grant."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def bind(self, target: Any, target_handler: Any) -> lambda_.DlqDestinationConfig:
        return lambda_.DlqDestinationConfig(destination=self.queue.queue_arn)


def log_group_key(stack: cdk.Stack, log_group_name: str) -> str:
    """A comparable key for a (possibly token) log group name."""
    return json.dumps(stack.resolve(log_group_name), sort_keys=True)


@jsii.implements(cdk.IAspect)
class SubscriptionFilterBudget:
    """Warns when a log group would carry more than two subscription filters (CloudWatch's limit)."""

    def __init__(self, stack: cdk.Stack) -> None:
        self.stack = stack
        self.counts: dict[str, int] = {}
        self.seen: set[str] = set()

    def expect_existing(self, log_group_name: str, count: int) -> None:
        key = log_group_key(self.stack, log_group_name)
        self.counts[key] = max(self.counts.get(key, 0), count)

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, logs.CfnSubscriptionFilter) or node.node.path in self.seen:
            return
        self.seen.add(node.node.path)
        key = log_group_key(cdk.Stack.of(node), node.log_group_name)
        self.counts[key] = self.counts.get(key, 0) + 1
        if self.counts[key] > MAX_SUBSCRIPTION_FILTERS:
            cdk.Annotations.of(node).add_warning_v2(
                SUBSCRIPTION_FILTER_LIMIT_WARNING,
                f"log group {json.loads(key)!r} would have {self.counts[key]} subscription filters; CloudWatch Logs "
                f"allows {MAX_SUBSCRIPTION_FILTERS} per group and the deploy will fail. Remove a filter, or use the "
                "'account-policy' or 'kinesis' ingestion mode.",
            )

    @classmethod
    def of(cls, stack: cdk.Stack) -> SubscriptionFilterBudget:
        """One budget per stack (two Gatewatch constructs in one stack must not count twice)."""
        budget = getattr(stack, _BUDGET_ATTRIBUTE, None)
        if budget is None:
            budget = cls(stack)
            setattr(stack, _BUDGET_ATTRIBUTE, budget)
            cdk.Aspects.of(stack).add(budget)
        return budget


_BUDGET_ATTRIBUTE = "_gatewatch_subscription_filter_budget"


class GatewatchIngestion(Construct):
    """Subscriptions / account policy / Kinesis stream feeding the analyzer (see the module docstring)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        mode: IngestionMode,
        sources: Sequence[LogSource],
        analyzer: lambda_.Function,
        dead_letter_queue: sqs.IQueue,
        excluded_log_group_names: Sequence[str],
        kinesis_settings: KinesisSettings | None = None,
        account_policy_name: str = "gatewatch-subscription",
    ) -> None:
        super().__init__(scope, id)
        self.mode = mode
        self.account_policy_name = account_policy_name
        self.stack = cdk.Stack.of(self)
        self.analyzer = analyzer
        self.filters: list[logs.SubscriptionFilter] = []
        self.permission: lambda_.CfnPermission | None = None
        self.account_policy: logs.CfnAccountPolicy | None = None
        self.stream: kinesis.Stream | None = None
        self.event_source_mapping: lambda_.EventSourceMapping | None = None
        self.cross_account_destination: logs.CfnDestination | None = None
        unique = self._unique(sources)
        budget = SubscriptionFilterBudget.of(self.stack)
        for source in unique:
            if source.existing_filters:
                budget.expect_existing(source.log_group.log_group_name, source.existing_filters)

        if mode is IngestionMode.KINESIS:
            self._kinesis(unique, dead_letter_queue, kinesis_settings or KinesisSettings())
        else:
            permission = self.permission = self._logs_invoke_permission()
            if mode is IngestionMode.SUBSCRIPTION:
                destination = _Destination(analyzer.function_arn)
                for i, source in enumerate(unique):
                    self._subscribe(f"Subscription{i}", source, destination, depends_on=permission)
            else:
                self._account_policy(excluded_log_group_names, depends_on=permission)

    @staticmethod
    def _unique(sources: Sequence[LogSource]) -> list[LogSource]:
        """One filter per log group even when two APIs share a group."""
        out: dict[str, LogSource] = {}
        for source in sources:
            name = source.log_group.log_group_name
            key = name if not cdk.Token.is_unresolved(name) else source.log_group.node.path
            if key not in out or source.existing_filters > out[key].existing_filters:
                out[key] = source
        return list(out.values())

    def _subscribe(self, id: str, source: LogSource, destination: _Destination, *, depends_on: IConstruct) -> None:
        # The filter pattern is empty (every event): the analyzer needs the successes to compute rates.
        subscription = logs.SubscriptionFilter(
            self,
            id,
            log_group=source.log_group,
            destination=destination,
            filter_pattern=logs.FilterPattern.all_events(),
        )
        subscription.node.add_dependency(depends_on)  # CloudWatch Logs test-delivers when the filter is created
        if self.mode is IngestionMode.KINESIS:
            cfn = subscription.node.default_child
            assert isinstance(cfn, logs.CfnSubscriptionFilter)
            cfn.distribution = "Random"  # spread over the shards instead of one shard per log stream
        self.filters.append(subscription)

    def _logs_invoke_permission(self) -> lambda_.CfnPermission:
        # ONE permission for every log group of this account and region: per-group permissions would
        # grow the resource policy past its 20 KB limit (~50-60 groups).
        return lambda_.CfnPermission(
            self,
            "LogsInvokePermission",
            action="lambda:InvokeFunction",
            function_name=self.analyzer.function_arn,
            principal="logs.amazonaws.com",
            source_account=self.stack.account,
            source_arn=self.stack.format_arn(
                service="logs", resource="log-group", resource_name="*", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
            ),
        )

    def _account_policy(self, excluded: Sequence[str], *, depends_on: IConstruct) -> None:
        names = ", ".join(f'"{name}"' for name in excluded)
        self.account_policy = logs.CfnAccountPolicy(
            self,
            "AccountSubscriptionPolicy",
            policy_name=self.account_policy_name,
            policy_type="SUBSCRIPTION_FILTER_POLICY",
            scope="ALL",
            policy_document=self.stack.to_json_string(
                {"DestinationArn": self.analyzer.function_arn, "FilterPattern": ""}
            ),
            # gatewatch's own log groups are excluded: its output would otherwise feed itself forever
            selection_criteria=f"LogGroupName NOT IN [{names}]",
        )
        self.account_policy.node.add_dependency(depends_on)  # the policy test-delivers to the analyzer
        cdk.Annotations.of(self).add_info(
            "gatewatch account-policy mode: every log group of the account and region is sent to the analyzer "
            "(lines that are not API Gateway logs are counted as LinesUnparsed and dropped)."
        )

    def _kinesis(self, sources: Sequence[LogSource], dead_letter_queue: sqs.IQueue, settings: KinesisSettings) -> None:
        stack = self.stack
        self.stream = kinesis.Stream(
            self,
            "Stream",
            shard_count=settings.shard_count,
            retention_period=cdk.Duration.hours(settings.retention_hours),
            # the AWS-managed aws/kinesis key (cdk-nag KDS3): Kinesis uses it on the callers' behalf, so
            # neither CloudWatch Logs' role nor the analyzer needs a KMS permission
            encryption=kinesis.StreamEncryption.MANAGED,
            # it holds at most a day of log deliveries already analysed; CDK's default (retain) would keep
            # paying ~$11 per shard-month after `cdk destroy` (kinesis.removalPolicy)
            removal_policy=cdk.RemovalPolicy.RETAIN
            if settings.removal_policy == "retain"
            else cdk.RemovalPolicy.DESTROY,
        )
        accounts = [stack.account, *settings.source_accounts]
        # CloudWatch Logs assumes this role to put records, only for log groups of the listed accounts
        role = iam.Role(
            self,
            "LogsToStreamRole",
            assumed_by=iam.ServicePrincipal(
                "logs.amazonaws.com",
                conditions={
                    "StringLike": {
                        "aws:SourceArn": [
                            stack.format_arn(
                                service="logs", account=a, resource="*", arn_format=cdk.ArnFormat.NO_RESOURCE_NAME
                            )
                            for a in accounts
                        ]
                    }
                },
            ),
            description="gatewatch: CloudWatch Logs subscriptions put records into the gatewatch stream",
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["kinesis:PutRecord", "kinesis:PutRecords"], resources=[self.stream.stream_arn])
        )
        destination = _Destination(self.stream.stream_arn, role)
        for i, source in enumerate(sources):
            # the policy, not the role: RoleArn's GetAtt already orders the role (cfn-lint W3005)
            self._subscribe(f"Subscription{i}", source, destination, depends_on=role.node.find_child("DefaultPolicy"))

        # the analyzer reads the stream (explicit: stream.grant_read would add kms wildcard actions)
        self.analyzer.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:ListShards",
                ],
                resources=[self.stream.stream_arn],
            )
        )
        self.event_source_mapping = lambda_.EventSourceMapping(
            self,
            "StreamMapping",
            target=self.analyzer,
            event_source_arn=self.stream.stream_arn,
            starting_position=lambda_.StartingPosition.LATEST,
            batch_size=settings.batch_size,
            max_batching_window=cdk.Duration.seconds(settings.max_batching_window_s),
            parallelization_factor=settings.parallelization_factor,
            bisect_batch_on_error=True,  # a poison record is isolated instead of blocking its shard
            report_batch_item_failures=True,  # the analyzer returns batchItemFailures
            retry_attempts=settings.retry_attempts,
            max_record_age=cdk.Duration.seconds(settings.max_record_age_s),
            on_failure=_QueueOnFailure(dead_letter_queue),
        )
        assert self.analyzer.role is not None
        self.event_source_mapping.node.add_dependency(self.analyzer.role)  # read permission before polling starts

        if settings.source_accounts:
            name = f"gatewatch-{stack.stack_name}"
            arn = stack.format_arn(
                service="logs", resource="destination", resource_name=name, arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
            )
            self.cross_account_destination = logs.CfnDestination(
                self,
                "CrossAccountDestination",
                destination_name=name,
                role_arn=role.role_arn,
                target_arn=self.stream.stream_arn,
                destination_policy=stack.to_json_string(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": list(settings.source_accounts)},
                                "Action": "logs:PutSubscriptionFilter",
                                "Resource": arn,
                            }
                        ],
                    }
                ),
            )
            self.cross_account_destination.node.add_dependency(role.node.find_child("DefaultPolicy"))


__all__ = [
    "SUBSCRIPTION_FILTER_LIMIT_WARNING",
    "GatewatchIngestion",
    "LogSource",
    "SubscriptionFilterBudget",
    "log_group_key",
]
