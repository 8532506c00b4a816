"""`Gatewatch(...)` in a user's own app, on an in-app RestApi and HttpApi."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Annotations, Match, Template

from stacks.config import GatewatchConfigError
from stacks.constructs.ingestion import SUBSCRIPTION_FILTER_LIMIT_WARNING
from stacks.gatewatch_construct import (
    HTTP_ACCESS_LOG_VARIABLES,
    REST_ACCESS_LOG_VARIABLES,
    Gatewatch,
    missing_access_log_variables,
    recommended_access_log_format,
)
from tests.infra.conftest import new_app, resources

SLACK = {"slack": {"webhookSecretName": "team/slack"}}
#: Findings about the *user's* test API itself (not gatewatch's resources): a mock API has no auth, WAF or validation.
USER_API_FINDINGS = ("AwsSolutions-APIG2", "AwsSolutions-APIG3", "AwsSolutions-APIG4", "AwsSolutions-COG4")


def _acknowledge_user_api(api: apigw.RestApi) -> None:
    for rule in USER_API_FINDINGS:
        cdk.Validations.of(api).acknowledge(
            cdk.Acknowledgment(
                id=rule,
                reason="A mock API built by the test to host gatewatch; its auth/WAF/validation are the user's choice.",
            )
        )


def user_stack(app: cdk.App | None = None, **rest_options) -> tuple[cdk.Stack, apigw.RestApi, apigwv2.HttpApi]:
    stack = cdk.Stack(app or new_app(), "UserApp")
    rest = apigw.RestApi(stack, "Orders", rest_api_name="orders", cloud_watch_role=False, **rest_options)
    rest.root.add_resource("pets").add_method(
        "GET",
        apigw.MockIntegration(
            integration_responses=[apigw.IntegrationResponse(status_code="200")],
            request_templates={"application/json": '{"statusCode": 200}'},
        ),
        method_responses=[apigw.MethodResponse(status_code="200")],
    )
    _acknowledge_user_api(rest)
    http = apigwv2.HttpApi(stack, "Users", api_name="users")
    return stack, rest, http


@pytest.fixture(scope="module")
def in_app() -> Template:
    stack, rest, http = user_stack()
    Gatewatch(stack, "Gatewatch", rest_apis=[rest], http_apis=[http], config=SLACK)
    return Template.from_stack(stack)


def test_rest_stage_gets_the_recommended_json_access_log_format(in_app):
    (stage,) = resources(in_app, "AWS::ApiGateway::Stage").values()
    setting = stage["Properties"]["AccessLogSetting"]
    fmt = json.loads(setting["Format"])
    assert fmt == {v: f"$context.{v}" for v in REST_ACCESS_LOG_VARIABLES}
    assert missing_access_log_variables(setting["Format"]) == []
    assert setting["DestinationArn"]["Fn::GetAtt"][1] == "Arn"


def test_rest_stage_logs_execution_at_info_without_bodies(in_app):
    (stage,) = resources(in_app, "AWS::ApiGateway::Stage").values()
    assert {"HttpMethod": "*", "ResourcePath": "/*", "LoggingLevel": "INFO", "DataTraceEnabled": False} in stage[
        "Properties"
    ]["MethodSettings"]
    # the execution log group is created (owned retention) before the stage can write to it
    groups = {
        k: v
        for k, v in resources(in_app, "AWS::Logs::LogGroup").items()
        if "API-Gateway-Execution-Logs_" in json.dumps(v["Properties"].get("LogGroupName", ""))
    }
    assert len(groups) == 1
    (group_id,) = groups
    assert group_id in stage["DependsOn"]


def test_http_stage_gets_the_http_flavour_of_the_format(in_app):
    (stage,) = resources(in_app, "AWS::ApiGatewayV2::Stage").values()
    fmt = json.loads(stage["Properties"]["AccessLogSettings"]["Format"])
    assert fmt == {v: f"$context.{v}" for v in HTTP_ACCESS_LOG_VARIABLES}
    assert "routeKey" in fmt and "resourcePath" not in fmt


def test_in_app_log_groups_are_subscribed_and_named_apis_get_alarms_and_dashboards(in_app):
    filters = resources(in_app, "AWS::Logs::SubscriptionFilter")
    assert len(filters) == 3  # REST access + REST execution + HTTP access
    boards = sorted(b["Properties"]["DashboardName"] for b in resources(in_app, "AWS::CloudWatch::Dashboard").values())
    assert boards == ["UserApp-orders", "UserApp-users"]  # the stack name starts every name
    names = {a["Properties"]["AlarmName"] for a in resources(in_app, "AWS::CloudWatch::Alarm").values()}
    assert "UserApp-orders-prod-5xx-rate" in names and "UserApp-users-default-5xx-rate" in names


def test_in_app_api_ids_reach_the_analyzer_as_references(in_app):
    fn = next(
        f
        for f in resources(in_app, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "analyzer.handler.lambda_handler"
    )
    apis = json.dumps(fn["Properties"]["Environment"]["Variables"]["GATEWATCH_APIS"])
    rest_id = next(iter(resources(in_app, "AWS::ApiGateway::RestApi")))
    http_id = next(iter(resources(in_app, "AWS::ApiGatewayV2::Api")))
    assert rest_id in apis and http_id in apis and '\\"name\\":\\"orders\\"' in apis


def test_in_app_routes_bound_the_route_dimension(in_app):
    # GIVEN the in-app REST API with its one method (GET /pets)
    fn = next(
        f
        for f in resources(in_app, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "analyzer.handler.lambda_handler"
    )
    apis = json.dumps(fn["Properties"]["Environment"]["Variables"]["GATEWATCH_APIS"])
    # THEN the analyzer knows that route list: only it gets a Route dimension of its own
    assert '\\"routes\\":[\\"GET /pets\\"]' in apis


def test_http_api_routes_reach_the_analyzer():
    from aws_cdk import aws_apigatewayv2_integrations as integrations

    # GIVEN an HTTP API with two routes defined in the app
    stack, rest, http = user_stack()
    target = integrations.HttpUrlIntegration("Backend", "https://example.com/{proxy}")
    http.add_routes(path="/users/{id}", methods=[apigwv2.HttpMethod.GET, apigwv2.HttpMethod.DELETE], integration=target)
    cdk.Validations.of(http).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions-APIG4", reason="A test API hosting gatewatch; its auth is the user's choice."
        )
    )
    Gatewatch(stack, "Gatewatch", rest_apis=[rest], http_apis=[http], config=SLACK)
    # WHEN synthesized THEN its route keys are the analyzer's route list for it
    app_template = Template.from_stack(stack)
    fn = next(
        f
        for f in resources(app_template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "analyzer.handler.lambda_handler"
    )
    entry = fn["Properties"]["Environment"]["Variables"]["GATEWATCH_APIS"]
    text = json.dumps(entry)
    assert '\\"routes\\":[\\"DELETE /users/{id}\\",\\"GET /users/{id}\\"]' in text


def test_existing_custom_format_without_classifier_fields_fails_synth_with_the_missing_variables():
    stack, rest, _http = user_stack(
        deploy_options=apigw.StageOptions(
            access_log_destination=apigw.LogGroupLogDestination(logs.LogGroup(cdk.Stack(new_app(), "Other"), "G")),
            access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                caller=False,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=False,
            ),
        )
    )
    with pytest.raises(GatewatchConfigError) as err:
        Gatewatch(stack, "Gatewatch", rest_apis=[rest], config=SLACK)
    message = str(err.value)
    assert "lacks fields the classifier needs" in message
    assert "$context.error.responseType" in message and "$context.integrationLatency" in message
    assert "$context.status" not in message.split("needs:")[1].split(". Add")[0].replace("$context.status or", "")


def test_existing_format_with_every_required_field_is_kept_and_subscribed():
    app = new_app()
    stack = cdk.Stack(app, "UserApp")
    group = logs.LogGroup(stack, "MyAccessLogs", retention=logs.RetentionDays.ONE_WEEK)
    custom = recommended_access_log_format(REST_ACCESS_LOG_VARIABLES).replace('"protocol":"$context.protocol",', "")
    rest = apigw.RestApi(
        stack,
        "Orders",
        rest_api_name="orders",
        cloud_watch_role=False,
        deploy_options=apigw.StageOptions(
            access_log_destination=apigw.LogGroupLogDestination(group),
            access_log_format=apigw.AccessLogFormat.custom(custom),
        ),
    )
    rest.root.add_method("GET", apigw.MockIntegration())
    _acknowledge_user_api(rest)
    Gatewatch(stack, "Gatewatch", rest_apis=[rest], config=SLACK)
    template = Template.from_stack(stack)
    (stage,) = resources(template, "AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["AccessLogSetting"]["Format"] == custom
    group_id = next(k for k in resources(template, "AWS::Logs::LogGroup") if k.startswith("MyAccessLogs"))
    assert any(
        group_id in json.dumps(f["Properties"]["LogGroupName"])
        for f in resources(template, "AWS::Logs::SubscriptionFilter").values()
    )


def test_a_log_group_with_two_filters_already_gets_a_synth_warning():
    app = new_app()
    stack = cdk.Stack(app, "UserApp")
    group = logs.LogGroup(stack, "Busy")
    for i in range(2):
        logs.CfnSubscriptionFilter(
            stack,
            f"Theirs{i}",
            log_group_name=group.log_group_name,
            filter_pattern="",
            destination_arn=f"arn:aws:lambda:us-east-1:111122223333:function:f{i}",
        )
    rest = apigw.RestApi(
        stack,
        "Orders",
        rest_api_name="orders",
        cloud_watch_role=False,
        deploy_options=apigw.StageOptions(
            access_log_destination=apigw.LogGroupLogDestination(group),
            access_log_format=apigw.AccessLogFormat.custom(recommended_access_log_format()),
        ),
    )
    rest.root.add_method("GET", apigw.MockIntegration())
    _acknowledge_user_api(rest)
    cdk.Validations.of(rest).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions-APIG6",
            reason="This test turns execution logging off to count only the access log group's filters.",
        )
    )
    Gatewatch(stack, "Gatewatch", rest_apis=[rest], execution_logging=False, config=SLACK)
    Template.from_stack(stack)
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("would have 3 subscription filters")
    )
    assert len(warnings) == 1
    assert SUBSCRIPTION_FILTER_LIMIT_WARNING in json.dumps(warnings[0].entry.data)


def test_configured_existing_filters_count_towards_the_limit():
    from tests.infra.conftest import build_stack, example_config

    raw = example_config()
    raw["apis"][1]["existingSubscriptionFilters"] = 2
    stack = build_stack(raw)
    Template.from_stack(stack)
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("users-http-access.*3 subscription filters")
    )
    assert len(warnings) == 1


def test_nothing_to_watch_is_a_clear_error():
    stack = cdk.Stack(new_app(), "Empty")
    with pytest.raises(GatewatchConfigError, match="no API to watch"):
        Gatewatch(stack, "Gatewatch")
