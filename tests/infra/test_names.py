"""Names: every dashboard, alarm and account policy starts with the deployment (stack) name, so two
copies of gatewatch coexist; names that would collide inside one deployment fail the synth."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk.assertions import Template

from gatewatch import constants as C
from gatewatch.naming import alarm_name, dashboard_name
from gatewatch.notify.slack_blocks import LinkContext, dashboard_console_url
from stacks.config import GatewatchConfigError, parse_config
from stacks.gatewatch_construct import Gatewatch
from tests.infra.conftest import build_stack, example_config, resources, template_of
from tests.infra.test_construct import SLACK, user_stack


def _names(template: Template) -> dict[str, set[str]]:
    def of(type_: str, key: str) -> set[str]:
        return {r["Properties"][key] for r in resources(template, type_).values()}

    return {
        "alarm": of("AWS::CloudWatch::Alarm", "AlarmName"),
        "dashboard": of("AWS::CloudWatch::Dashboard", "DashboardName"),
        "account policy": of("AWS::Logs::AccountPolicy", "PolicyName"),
    }


@pytest.fixture(scope="module")
def other_account_policy_template() -> Template:
    raw = example_config()
    raw["ingestion"] = "account-policy"
    return template_of(build_stack(raw, name="Other"))


def test_two_copies_with_different_stack_names_share_no_alarm_dashboard_or_policy_name(
    account_policy_template, other_account_policy_template
):
    # GIVEN the example config deployed twice, as "Gatewatch" and as "Other" (-c gatewatch:stackName=Other)
    first, second = _names(account_policy_template), _names(other_account_policy_template)
    # THEN each copy has all its resources, and no name of one is a name of the other
    for kind in first:
        assert first[kind] and len(first[kind]) == len(second[kind]), kind
        assert not first[kind] & second[kind], (kind, first[kind] & second[kind])
    # AND each name starts with its stack's name
    assert all(n.startswith("Gatewatch-") for names in first.values() for n in names)
    assert all(n.startswith("Other-") for names in second.values() for n in names)
    assert alarm_name("orders", "prod", "5xx-rate", "Other") in second["alarm"]
    assert second["account policy"] == {"Other-subscription"}


def test_the_notifier_links_to_the_dashboard_the_stack_creates(subscription_template):
    # GIVEN the notifier's environment as the stack sets it
    notifier = next(
        f["Properties"]
        for f in resources(subscription_template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "notifier.handler.lambda_handler"
    )
    env: dict[str, Any] = notifier["Environment"]["Variables"]
    assert env[C.ENV_DEPLOYMENT] == "Gatewatch"
    # WHEN its formatter builds the dashboard link of an alarm on "orders"
    ctx = LinkContext.from_environ(
        {C.ENV_DEPLOYMENT: env[C.ENV_DEPLOYMENT], C.ENV_DASHBOARD_URL: "https://console/#dashboards/dashboard/"}
    )
    link = dashboard_console_url(ctx, "orders", "eu-west-1")
    # THEN it names a dashboard the stack really creates
    boards = {
        b["Properties"]["DashboardName"]
        for b in resources(subscription_template, "AWS::CloudWatch::Dashboard").values()
    }
    assert link is not None and link.rsplit("/", 1)[1] in boards
    assert link.endswith("/" + dashboard_name("orders", "Gatewatch"))


def test_two_api_names_that_become_one_slug_are_a_config_error():
    # GIVEN two APIs named "orders v2" and "orders-v2" (both "orders-v2" in names)
    raw = example_config()
    raw["apis"][0]["name"] = "orders v2"
    raw["apis"][1]["name"] = "orders-v2"
    # WHEN the config is validated THEN the error names both APIs and the shared slug
    with pytest.raises(GatewatchConfigError) as err:
        parse_config(raw)
    (problem,) = err.value.problems
    assert "'orders-v2'" in problem and "'orders v2'" in problem and "apis[0]" in problem and "apis[1]" in problem


def test_any_two_generated_alarm_names_that_are_equal_fail_the_synth_naming_both():
    # GIVEN api "orders-prod" stage "live" and api "orders" stage "prod-live": different APIs, but
    # "{stack}-orders-prod-live-5xx-rate" either way
    raw = example_config()
    raw["apis"][0].update({"name": "orders-prod", "stage": "live"})
    raw["apis"][1].update({"name": "orders", "stage": "prod-live"})
    # WHEN the stack is built THEN synth fails before any resource exists, naming both owners
    with pytest.raises(GatewatchConfigError) as err:
        build_stack(raw)
    text = "\n".join(err.value.problems)
    assert "orders-prod/live" in text and "orders/prod-live" in text
    assert "'Gatewatch-orders-prod-live-5xx-rate'" in text


def test_in_app_apis_whose_names_become_one_slug_are_refused():
    # GIVEN a user's app with the HTTP APIs "orders v2" and "orders-v2"
    stack, _, _ = user_stack()
    spaced = apigwv2.HttpApi(stack, "OrdersSpace", api_name="orders v2")
    dashed = apigwv2.HttpApi(stack, "OrdersDash", api_name="orders-v2")
    # WHEN Gatewatch is given both THEN it refuses, naming both
    with pytest.raises(GatewatchConfigError) as err:
        Gatewatch(stack, "Gatewatch", http_apis=[spaced, dashed], config=SLACK)
    assert "'orders-v2'" in str(err.value) and "'orders v2'" in str(err.value)


def test_a_second_gatewatch_in_one_stack_takes_its_own_deployment_name():
    # GIVEN a user's stack with gatewatch already watching its APIs
    stack, rest, http = user_stack()
    first = Gatewatch(stack, "Gatewatch", rest_apis=[rest], config=SLACK)
    # WHEN a second construct watches another API under its own deployment name
    second = Gatewatch(stack, "GatewatchUsers", http_apis=[http], config=SLACK, deployment_name="UserAppUsers")
    template = json.dumps(Template.from_stack(stack).to_json())
    # THEN both coexist, each with its own names
    assert (first.deployment, second.deployment) == ("UserApp", "UserAppUsers")
    assert '"UserApp-orders"' in template and '"UserAppUsers-users"' in template
