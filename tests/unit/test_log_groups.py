"""Only API Gateway's logs are read as API logs: other services' groups are known by name, or by content."""

from __future__ import annotations

import pytest

from gatewatch.parse.log_groups import holds_gateway_logs, is_other_service_log_group
from tests.helpers import corpus_access

LAMBDA_RUNTIME = [
    "START RequestId: 06e46194-f277-454e-88d3-1dd7e3860eaa Version: $LATEST\n",
    "END RequestId: 06e46194-f277-454e-88d3-1dd7e3860eaa\n",
    "REPORT RequestId: 06e46194-f277-454e-88d3-1dd7e3860eaa\tDuration: 9.14 ms\tBilled Duration: 10 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 37 MB\t\n",
]
# VPC flow logs, default format (version 2), as in the VPC user guide's examples
VPC_FLOW = [
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 "
    "ACCEPT OK",
    "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
    "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
]
# An app's own JSON log lines: a request id, a method, a path, a status and a latency — but nothing only
# API Gateway's $context gives
APP_JSON = [
    '{"level":"INFO","requestId":"0b1c2d3e-4f50-4a6b-8c7d-000000000001","method":"GET","path":"/orders/42",'
    '"status":200,"latency":12,"msg":"request completed"}',
    '{"level":"ERROR","request_id":"0b1c2d3e-4f50-4a6b-8c7d-000000000002","method":"POST","status":500,'
    '"msg":"db timeout"}',
]
POWERTOOLS_JSON = [
    '{"level":"INFO","location":"handler:12","message":"order placed","timestamp":"2026-12-04 17:00:00,123+0000",'
    '"service":"orders","cold_start":false,"function_request_id":"0b1c2d3e-4f50-4a6b-8c7d-000000000003",'
    '"status":"ok"}'
]


@pytest.mark.parametrize(
    "group",
    [
        "/aws/lambda/orders-handler",
        "/aws/vpc/flow-logs",
        "/aws/ecs/containerinsights/prod/performance",
        "aws-waf-logs-shop",
        "/aws/apigateway/welcome",
        "aws-cloudtrail-logs-123456789012-1a2b3c4d",
    ],
)
def test_other_services_groups_are_known_by_name(group):
    assert is_other_service_log_group(group)
    # whatever they hold: a group's name decides before its content
    assert not holds_gateway_logs(group, [corpus_access()[0]["raw"]])


@pytest.mark.parametrize(
    "lines",
    [LAMBDA_RUNTIME, VPC_FLOW, APP_JSON, POWERTOOLS_JSON, ["[ERROR] First test message"]],
    ids=["lambda-runtime", "vpc-flow", "app-json", "powertools-json", "plain-text"],
)
def test_a_user_named_group_without_api_gateway_evidence_is_not_read(lines):
    assert not holds_gateway_logs("/my-team/service-logs", lines)


def test_every_real_access_line_is_recognised_in_a_group_of_any_name():
    # GIVEN the real access lines of the corpus (JSON, CLF, CSV, XML; REST, HTTP and WebSocket APIs)
    lines = [r["raw"].replace("\n", " ") for r in corpus_access()]
    assert len(lines) >= 19 and {r["format"][:3] for r in corpus_access()} >= {"jso", "clf"}
    # THEN each one alone is enough to show its group is API Gateway's
    missed = [line[:100] for line in lines if not holds_gateway_logs("/custom/access-logs", [line])]
    assert missed == []


def test_one_api_gateway_line_among_the_first_lines_is_enough_and_execution_groups_always_are():
    assert holds_gateway_logs("/custom/access-logs", APP_JSON + [corpus_access()[0]["raw"]])
    assert holds_gateway_logs("API-Gateway-Execution-Logs_a1b2c3d4e5/prod", LAMBDA_RUNTIME)
    assert holds_gateway_logs(None, LAMBDA_RUNTIME)  # a file without a group: read as before
    # the conventional access-log group name is read as one (an unreadable format shows as unparsed access)
    assert holds_gateway_logs("/aws/apigateway/orders-access", ["not a format gatewatch reads"])
