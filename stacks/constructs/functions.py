"""The analyzer and notifier Lambda functions, their code asset, log groups, roles and failure path.

Why local bundling: PythonFunction needs Docker, and the machines that synth gatewatch have none.
`LocalPythonBundler` installs functions/requirements.txt as arm64 wheels for the Lambda runtime's
Python (`pip install --platform manylinux2014_aarch64 --only-binary=:all:`), copies the engine and
the two handler packages, and compiles every module to `.pyc` with the runtime's own CPython version
(`stacks.bytecode`: Pyodide's CPython 3.14 under Node) — no native code is built, so an x86 laptop
builds an arm64 asset, and Lambda (whose code directory is read-only) never compiles at cold start.
boto3 is not bundled: the Lambda runtime provides it.

Why hand-written IAM: the stock grants add managed policies (AWSLambdaBasicExecutionRole) or
wildcard actions (kms:GenerateDataKey*, kms:ReEncrypt*). Each role here gets an inline policy
with the exact actions the handlers call, on the exact resources.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from gatewatch import constants as C
from stacks.config import GatewatchConfig
from stacks.constructs.bytecode import compile_bytecode

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
WHEELHOUSE_DIR = REPO_ROOT / ".wheelhouse"
#: The Python packages of the asset, an allowlist: the engine and the two handlers. The CLI
#: (gatewatch_cli), the demo (gatewatch_demo) and the CDK code live outside functions/ and never reach it.
ASSET_PACKAGES = ("gatewatch", "analyzer", "notifier")
ASSET_REQUIREMENTS = "requirements.txt"

#: The newest Python runtime aws-cdk-lib 2.275 knows (cdk-nag L1 wants the latest); the wheels and the
#: bytecode follow it (the `pyodide` npm package pinned in package.json must be the same CPython version).
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_14
LAMBDA_PYTHON_VERSION = "3.14"
LAMBDA_PLATFORM = "manylinux2014_aarch64"

# Sizing, from the engine benchmark (~200k access events/s on one full vCPU = 1,769 MB):
# - analyzer 512 MB ≈ 0.29 vCPU ≈ 58k events/s. A 1 MB subscription batch (1-2k events) takes
#   ~20-35 ms; a Kinesis batch of 100 records (up to ~6 MB compressed, ~100k events) ~2 s. Peak
#   memory is < 128 MB per 1 MB batch (DESIGN §9) on top of ~60 MB of runtime + Powertools, so 512 MB
#   leaves room for 6 MB Kinesis batches. CPU scales with memory, so GB-seconds per event (the cost)
#   are almost the same at 256 or 1,024 MB; 512 MB keeps latency low without paying for idle memory.
# - analyzer timeout 60 s: the worst batch (~2 s of CPU) plus SNS/DynamoDB calls with botocore's
#   retries; a shorter timeout would turn a slow AWS API into a retried (double-processed) batch.
# - notifier 256 MB: I/O bound (Secrets Manager once per container, one HTTPS POST to Slack);
#   timeout 60 s covers Slack's Retry-After back-off, which the notifier caps below this.
ANALYZER_MEMORY_MB = 512
ANALYZER_TIMEOUT = cdk.Duration.seconds(60)
NOTIFIER_MEMORY_MB = 256
NOTIFIER_TIMEOUT = cdk.Duration.seconds(60)
ASYNC_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE = cdk.Duration.hours(6)
LAMBDA_ENV_LIMIT_BYTES = 4096


def pip_install_command(output_dir: str, *, requirements: Path, wheelhouse: Path | None) -> list[str]:
    """The pip command that puts arm64 wheels for the Lambda runtime into `output_dir` (no build, no sdist)."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--platform",
        LAMBDA_PLATFORM,
        "--only-binary=:all:",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--implementation",
        "cp",
        "-r",
        str(requirements),
        "-t",
        output_dir,
    ]
    if wheelhouse is not None and wheelhouse.is_dir():
        # offline: `make env` pre-downloads the wheels; nothing is fetched at synth or test time
        cmd += ["--no-index", "--find-links", str(wheelhouse)]
    return cmd


@jsii.implements(cdk.ILocalBundling)
class LocalPythonBundler:
    """Builds the Lambda asset without Docker (see the module docstring)."""

    def __init__(self, source_dir: Path = FUNCTIONS_DIR, wheelhouse: Path | None = WHEELHOUSE_DIR) -> None:
        self.source_dir = source_dir
        self.wheelhouse = wheelhouse

    def try_bundle(self, output_dir: str, *args: Any, **options: Any) -> bool:
        cmd = pip_install_command(
            output_dir, requirements=self.source_dir / ASSET_REQUIREMENTS, wheelhouse=self.wheelhouse
        )
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(
                f"gatewatch: bundling the Lambda dependencies failed ({' '.join(cmd)}):\n{done.stderr[-2000:]}"
            )
        for package in ASSET_PACKAGES:
            copy_sources(self.source_dir / package, Path(output_dir) / package)
        compile_bytecode(Path(output_dir), python_version=LAMBDA_PYTHON_VERSION)
        return True


def copy_sources(source: Path, target: Path) -> None:
    """The allowlist: the `.py` files of one asset package, its sub-packages included, and nothing else
    (no caches, no stray data files, nothing a developer left beside the code)."""
    for path in sorted(source.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)


def function_code() -> lambda_.Code:
    """The one asset both functions run (functions/ as asset root, DESIGN §8).

    `exclude` keeps a developer's local `__pycache__` out of the source fingerprint; the bundle's own
    `.pyc` files (compiled for the runtime) are what the asset ships."""
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR),
        exclude=["**/__pycache__", "*.pyc"],
        bundling=cdk.BundlingOptions(
            # never pulled: local bundling always succeeds or raises; the image only satisfies the API
            image=cdk.DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),
            local=LocalPythonBundler(),
        ),
    )


@jsii.implements(lambda_.IDestination)
class QueueDestination:
    """An on-failure destination that only names the queue; the send permission is granted explicitly.

    Why not `SqsDestination`: it grants kms:GenerateDataKey* / kms:ReEncrypt* (wildcard actions).
    """

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def bind(self, scope: Construct, fn: lambda_.IFunction, *args: Any, **kwargs: Any) -> lambda_.DestinationConfig:
        return lambda_.DestinationConfig(destination=self.queue.queue_arn)


def send_to_queue_statements(queue: sqs.IQueue, key: kms.IKey) -> list[iam.PolicyStatement]:
    """What it takes to put a message into the encrypted dead-letter queue — and nothing more."""
    return [
        iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn]),
        iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn]),
    ]


@dataclass(frozen=True)
class AlertingTargets:
    """What the functions write to (created by the alerting construct)."""

    key: kms.IKey
    topic: sns.ITopic
    table_name: str
    table_arn: str
    dead_letter_queue: sqs.IQueue


class GatewatchFunctions(Construct):
    """The analyzer (logs -> metrics + immediate alerts) and the notifier (SNS -> Slack)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: GatewatchConfig,
        apis_json: str,
        targets: AlertingTargets,
        dashboard_url_prefix: str,
        deployment: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.config = config
        retention = config.log_retention_days
        code = function_code()
        common_env = {
            C.ENV_APIS: apis_json,
            C.ENV_STATE_TABLE: targets.table_name,
            C.ENV_DASHBOARD_URL: dashboard_url_prefix,
            C.ENV_METRICS_NAMESPACE: config.metric_namespace,
            "POWERTOOLS_SERVICE_NAME": C.SERVICE_NAME,
        }
        analyzer_env = dict(common_env)
        analyzer_env.update(
            {
                C.ENV_ALERT_TOPIC_ARN: targets.topic.topic_arn,
                C.ENV_ALERT_CATEGORIES: ",".join(config.alert_categories),
                C.ENV_ALERT_COOLDOWN_S: str(config.alert_cooldown_s),
            }
        )
        if config.field_map:
            analyzer_env[C.ENV_FIELD_MAP] = cdk.Stack.of(self).to_json_string(dict(config.field_map))
        notifier_env = dict(common_env)
        if deployment:
            notifier_env[C.ENV_DEPLOYMENT] = deployment  # its dashboard links use the stack's dashboard names
        slack = config.slack
        if slack.webhook_secret_name:
            notifier_env[C.ENV_SLACK_SECRET] = slack.webhook_secret_name
        if slack.bot_token_secret_name:
            notifier_env[C.ENV_SLACK_BOT_SECRET] = slack.bot_token_secret_name
        if slack.channel:
            notifier_env[C.ENV_SLACK_CHANNEL] = slack.channel

        self.analyzer_log_group = self._log_group("AnalyzerLogs", retention)
        self.notifier_log_group = self._log_group("NotifierLogs", retention)
        self.analyzer = self._function(
            "Analyzer",
            handler="analyzer.handler.lambda_handler",
            code=code,
            memory=ANALYZER_MEMORY_MB,
            timeout=ANALYZER_TIMEOUT,
            env=analyzer_env,
            log_group=self.analyzer_log_group,
            targets=targets,
            description="gatewatch analyzer: API Gateway logs -> error categories, metrics (EMF) and immediate alerts",
        )
        self.notifier = self._function(
            "Notifier",
            handler="notifier.handler.lambda_handler",
            code=code,
            memory=NOTIFIER_MEMORY_MB,
            timeout=NOTIFIER_TIMEOUT,
            env=notifier_env,
            log_group=self.notifier_log_group,
            targets=targets,
            description="gatewatch notifier: alarms and analyzer alerts -> Slack",
        )
        # analyzer: publish immediate alerts; both: the dedupe / alert-state table
        self.analyzer.add_to_role_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[targets.topic.topic_arn])
        )
        self.analyzer.add_to_role_policy(
            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[targets.key.key_arn])
        )
        for fn in (self.analyzer, self.notifier):
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                    resources=[targets.table_arn],
                )
            )
        for secret_name in filter(None, (slack.webhook_secret_name, slack.bot_token_secret_name)):
            # "-??????" matches exactly the random 6-character suffix Secrets Manager appends to a secret's ARN
            secret_arn = cdk.Stack.of(self).format_arn(
                service="secretsmanager",
                resource="secret",
                resource_name=f"{secret_name}-??????",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
            self.notifier.add_to_role_policy(
                iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[secret_arn])
            )
        targets.topic.add_subscription(subscriptions.LambdaSubscription(self.notifier))
        self._check_environment_size(analyzer_env)

    def _log_group(self, id: str, retention_days: int) -> logs.LogGroup:
        # Own log groups (not the implicit /aws/lambda/...): retention is set, they go away with the
        # stack, and the account-level subscription policy can exclude them by name.
        return retained_log_group(self, id, retention_days, removal_policy=cdk.RemovalPolicy.DESTROY)

    def _function(
        self,
        id: str,
        *,
        handler: str,
        code: lambda_.Code,
        memory: int,
        timeout: cdk.Duration,
        env: Mapping[str, str],
        log_group: logs.LogGroup,
        targets: AlertingTargets,
        description: str,
    ) -> lambda_.Function:
        role = iam.Role(
            self,
            f"{id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"gatewatch {id.lower()}: writes its own log group, nothing account-wide",
        )
        # logGroupArn is "arn:...:log-group:<name>:*" — the streams of this one group
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
            )
        )
        for statement in send_to_queue_statements(targets.dead_letter_queue, targets.key):
            role.add_to_principal_policy(statement)
        fn = lambda_.Function(
            self,
            id,
            code=code,
            handler=handler,
            runtime=LAMBDA_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            memory_size=memory,
            timeout=timeout,
            environment=dict(env),
            role=role,
            log_group=log_group,
            description=description,
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=ASYNC_MAX_EVENT_AGE,
            on_failure=QueueDestination(targets.dead_letter_queue),
        )
        # CDK makes the function depend on the role AND its policy; the GetAtt of the role already orders
        # the first (cfn-lint W3005), so keep only the policy: the function must not run before it applies.
        policy = role.node.find_child("DefaultPolicy").node.default_child
        cfn_function = fn.node.default_child
        assert isinstance(policy, cdk.CfnResource) and isinstance(cfn_function, cdk.CfnResource)
        cfn_function.add_override("DependsOn", [cdk.Stack.of(self).get_logical_id(policy)])
        return fn

    def _check_environment_size(self, env: Mapping[str, str]) -> None:
        size = sum(len(k) + len(v) for k, v in env.items() if not cdk.Token.is_unresolved(v))
        if size > LAMBDA_ENV_LIMIT_BYTES - 512:
            raise ValueError(
                f"gatewatch: the analyzer's environment would be {size} bytes, close to Lambda's 4 KB limit — "
                "watch fewer APIs per stack, or shorten the names (GATEWATCH_APIS holds one entry per API)"
            )


def retained_log_group(
    scope: Construct,
    id: str,
    retention_days: int,
    *,
    log_group_name: str | None = None,
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.DESTROY,
) -> logs.LogGroup:
    """A log group with the configured retention (config validated the day count against CloudWatch's list)."""
    group = logs.LogGroup(
        scope, id, log_group_name=log_group_name, removal_policy=removal_policy, retention=logs.RetentionDays.ONE_MONTH
    )
    cfn = group.node.default_child
    assert isinstance(cfn, logs.CfnLogGroup)
    cfn.retention_in_days = retention_days  # RetentionDays is a name enum; the day count is what CFN takes
    return group


__all__ = [
    "LAMBDA_PYTHON_VERSION",
    "LAMBDA_RUNTIME",
    "AlertingTargets",
    "GatewatchFunctions",
    "LocalPythonBundler",
    "QueueDestination",
    "copy_sources",
    "function_code",
    "pip_install_command",
    "retained_log_group",
    "send_to_queue_statements",
]
