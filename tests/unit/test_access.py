"""Access-log parser: every console format, the real corpus, naming styles, field maps, broken JSON."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from gatewatch.models import AccessRecord, Rejection
from gatewatch.parse.access import CANONICAL_FIELDS, looks_like_access_line, parse_access_line
from tests.helpers import corpus_access, corpus_execution

CORPUS = {record["id"]: record["raw"] for record in corpus_access()}


def parse_ok(line: str, **kwargs) -> AccessRecord:
    result = parse_access_line(line, **kwargs)
    assert isinstance(result, AccessRecord), result
    return result


# --------------------------------------------------------------------------------------------------
# The real corpus (A01-A19)
# --------------------------------------------------------------------------------------------------

# id -> fields a user would look at. route: ("resource_path"|"route_key", value).
CORPUS_EXPECTED = {
    "A01": dict(
        format="json",
        status=200,
        request_id="48752d0f-c99d-4cfa-a5a7-f3c6834d19e5",
        http_method="GET",
        resource_path="/pets",
        response_length=184,
        ip="1.128.0.0",
        protocol="HTTP/1.1",
    ),
    "A02": dict(
        format="json",
        status=200,
        request_id="caa4a500-2651-4476-aa1f-a639b858819b",
        resource_path="/pets/{petId}",
        response_length=49,
    ),
    "A03": dict(
        format="json", status=200, request_id="c5a56ba0-fd42-4425-b7d2-5e8836563270", resource_path="/pets/{petId}"
    ),
    "A04": dict(
        format="json",
        status=200,
        request_id="c12d1542-b79e-4e79-a158-fdf36452a81b",
        api_id="asad15n3p0",
        stage="prod",
        resource_path="/pets/{petId}",
        response_length=48,
    ),
    "A05": dict(
        format="json",
        status=200,
        request_id="868ee022-bc3a-4acf-97e7-acb7472b3235",
        resource_path="/",
        response_length=1310,
        api_id="asad15n3p0",
    ),
    "A06": dict(format="json", status=200, request_id="GQIVriFLIAMEMsA=", route_key="GET /", response_length=47140),
    "A07": dict(format="json", status=200, request_id="IWeTChtboAMEVUQ=", route_key="GET /", response_length=51880),
    "A08": dict(format="json", status=200, request_id="IWvN1jOkoAMEVpg=", route_key="GET /"),
    "A09": dict(
        format="json",
        status=200,
        request_id="Iq8dHhlwIAMEV_g=",
        route_key="GET /",
        stage="$default",
        api_id="1ax3mj7iqf",
    ),
    "A10": dict(format="json", status=200, request_id="Iq8dXiijIAMEV8Q=", route_key="GET /", response_length=51205),
    "A11": dict(
        format="json",
        status=500,
        request_id="REDACTED",
        event_type="CONNECT",
        route_key="$connect",
        connection_id="REDACTED",
    ),
    "A12": dict(
        format="json",
        status=403,
        request_id="177a5660-9b20-4614-b620-51dd4d56fb4c",
        event_type=None,
        route_key=None,
        connection_id=None,
    ),
    "A13": dict(
        format="json",
        status=500,
        request_id="Iq9gwFDNoAMFo1A=",
        event_type="CONNECT",
        route_key="$connect",
        connection_id="Iq8gj1UmIAMCKpA=",
        api_id="z1ctxygne5",
        stage="production",
    ),
    "A14": dict(format="json", status=500, request_id="Iq9gjE_aIAMFZTg=", connection_id="Iq8gj1UmIAMCKpA="),
    "A15": dict(
        format="json",
        status=400,
        request_id="a4188e34-1104-424e-9907-eebbf55dd662",
        http_method="POST",
        resource_path="/data-product/{data-product-name}/table/{table-name}/schema",
        path="/development/data-product/test_product1/table/%c2%a3/schema",
        request_time_epoch_ms=1698414057744,
        ip="51.14.4.225",
    ),
    "A16": dict(
        format="json",
        status=500,
        request_id="xxxxxxxxxxxxxxxx",
        route_key="GET /path",
        http_method="GET",
        response_length=35,
        recovered=True,
    ),
    "A17": dict(
        format="json",
        status=400,
        request_id="0741918d-f9b1-4219-a264-476a2669f111",
        path="/jobs",
        http_method="POST",
        response_latency_ms=3296.0,
        user_agent="hyp3_sdk/5.0.0",
        ip="foo",
    ),
    "A18": dict(
        format="clf",
        status=500,
        request_id="fQke_hDCDoEEMpw=",
        http_method="POST",
        route_key="POST /start-step-function",
        response_length=35,
        ip="104.129.198.74",
        request_time="24/Jan/2023:17:52:06 +0000",
        integration_error="API Gateway doesn’t have permissions to assume the IAM role configured on the "
        "integration. Check the permissions and try again.",
    ),
    "A19": dict(
        format="clf",
        status=500,
        request_id="AqCiOhxcLPEEMIA=",
        http_method="GET",
        route_key="$default",
        ip=None,
        integration_error="The IAM role configured on the integration or API Gateway doesn't have "
        "permissions to call the integration. Check the permissions and try again",
    ),
}


def test_the_expectations_cover_the_whole_corpus():
    assert set(CORPUS_EXPECTED) == set(CORPUS) == {f"A{i:02d}" for i in range(1, 20)}


@pytest.mark.parametrize("record_id", sorted(CORPUS_EXPECTED))
def test_every_real_corpus_line_parses_to_the_fields_it_carries(record_id):
    # GIVEN a real access-log line WHEN parsed
    record = parse_ok(CORPUS[record_id], timestamp=1_700_000_000_000)
    # THEN the fields a user looks at are there, typed, and the event time is kept
    for name, expected in CORPUS_EXPECTED[record_id].items():
        assert getattr(record, name) == expected, name
    assert record.timestamp == 1_700_000_000_000
    assert record.recovered is (record_id == "A16")


def test_a_websocket_line_with_dashes_still_says_which_fields_its_format_carries():
    # GIVEN A12: eventType, routeKey and connectionId logged as "-"
    record = parse_ok(CORPUS["A12"])
    # THEN they are absent but known to be part of the format
    assert {"event_type", "route_key", "connection_id", "status", "request_id"} <= record.fields_present
    assert "integration_error" not in record.fields_present


# --------------------------------------------------------------------------------------------------
# Console default formats (reference §2.2, §2.3; WebSocket console defaults)
# --------------------------------------------------------------------------------------------------

TEMPLATES = {
    (
        "REST",
        "clf",
    ): "$context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime] "
    '"$context.httpMethod $context.resourcePath $context.protocol" $context.status '
    "$context.responseLength $context.requestId $context.extendedRequestId",
    ("REST", "json"): '{ "requestId":"$context.requestId", "extendedRequestId":"$context.extendedRequestId", '
    '"ip": "$context.identity.sourceIp", "caller":"$context.identity.caller", '
    '"user":"$context.identity.user", "requestTime":"$context.requestTime", '
    '"httpMethod":"$context.httpMethod", "resourcePath":"$context.resourcePath", '
    '"status":"$context.status", "protocol":"$context.protocol", '
    '"responseLength":"$context.responseLength" }',
    (
        "REST",
        "xml",
    ): '<request id="$context.requestId"> <extendedRequestId>$context.extendedRequestId</extendedRequestId> '
    "<ip>$context.identity.sourceIp</ip> <caller>$context.identity.caller</caller> "
    "<user>$context.identity.user</user> <requestTime>$context.requestTime</requestTime> "
    "<httpMethod>$context.httpMethod</httpMethod> <resourcePath>$context.resourcePath</resourcePath> "
    "<status>$context.status</status> <protocol>$context.protocol</protocol> "
    "<responseLength>$context.responseLength</responseLength> </request>",
    ("REST", "csv"): "$context.identity.sourceIp,$context.identity.caller,$context.identity.user,$context.requestTime,"
    "$context.httpMethod,$context.resourcePath,$context.protocol,$context.status,"
    "$context.responseLength,$context.requestId,$context.extendedRequestId",
    ("HTTP", "clf"): '$context.identity.sourceIp - - [$context.requestTime] "$context.httpMethod $context.routeKey '
    '$context.protocol" $context.status $context.responseLength $context.requestId',
    ("HTTP", "json"): '{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", '
    '"requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod",'
    '"routeKey":"$context.routeKey", "status":"$context.status","protocol":"$context.protocol", '
    '"responseLength":"$context.responseLength" }',
    ("HTTP", "xml"): '<request id="$context.requestId"> <ip>$context.identity.sourceIp</ip> '
    "<requestTime>$context.requestTime</requestTime> <httpMethod>$context.httpMethod</httpMethod> "
    "<routeKey>$context.routeKey</routeKey> <status>$context.status</status> "
    "<protocol>$context.protocol</protocol> <responseLength>$context.responseLength</responseLength> "
    "</request>",
    ("HTTP", "csv"): "$context.identity.sourceIp,$context.requestTime,$context.httpMethod,$context.routeKey,"
    "$context.protocol,$context.status,$context.responseLength,$context.requestId",
    ("WEBSOCKET", "clf"): "$context.identity.sourceIp $context.identity.caller $context.identity.user "
    '[$context.requestTime] "$context.eventType $context.routeKey $context.connectionId" '
    "$context.status $context.requestId",
    ("WEBSOCKET", "json"): '{"requestId":"$context.requestId", "ip": "$context.identity.sourceIp", '
    '"caller":"$context.identity.caller", "user":"$context.identity.user",'
    '"requestTime":"$context.requestTime", "eventType":"$context.eventType",'
    '"routeKey":"$context.routeKey", "status":"$context.status",'
    '"connectionId":"$context.connectionId"}',
    ("WEBSOCKET", "xml"): '<request id="$context.requestId"> <ip>$context.identity.sourceIp</ip> '
    "<caller>$context.identity.caller</caller> <user>$context.identity.user</user> "
    "<requestTime>$context.requestTime</requestTime> <eventType>$context.eventType</eventType> "
    "<routeKey>$context.routeKey</routeKey> <status>$context.status</status> "
    "<connectionId>$context.connectionId</connectionId> </request>",
    ("WEBSOCKET", "csv"): "$context.identity.sourceIp,$context.identity.caller,$context.identity.user,"
    "$context.requestTime,$context.eventType,$context.routeKey,$context.connectionId,"
    "$context.status,$context.requestId",
}

VALUES = {
    "REST": {
        "identity.sourceIp": "203.0.113.7",
        "identity.caller": "-",
        "identity.user": "-",
        "requestTime": "26/Nov/2025:09:14:03 +0000",
        "httpMethod": "POST",
        "resourcePath": "/orders/{orderId}",
        "protocol": "HTTP/1.1",
        "status": "502",
        "responseLength": "36",
        "requestId": "7c1d3f0e-5b2a-4c8e-9f41-2d6a8b0e9c13",
        "extendedRequestId": "YIwYiFstIAMESqA=",
    },
    "HTTP": {
        "identity.sourceIp": "198.51.100.23",
        "requestTime": "26/Nov/2025:09:14:04 +0000",
        "httpMethod": "GET",
        "routeKey": "GET /pets/{id}",
        "protocol": "HTTP/1.1",
        "status": "504",
        "responseLength": "42",
        "requestId": "fQke_hDCDoEEMpw=",
    },
    "WEBSOCKET": {
        "identity.sourceIp": "192.0.2.44",
        "identity.caller": "-",
        "identity.user": "-",
        "requestTime": "26/Nov/2025:09:14:05 +0000",
        "eventType": "CONNECT",
        "routeKey": "$connect",
        "connectionId": "Iq8gj1UmIAMCKpA=",
        "status": "500",
        "requestId": "Iq9gwFDNoAMFo1A=",
    },
}

# $context variable -> AccessRecord field, for the variables the console templates use.
VARIABLE_FIELDS = {
    "identity.sourceIp": "ip",
    "requestTime": "request_time",
    "httpMethod": "http_method",
    "resourcePath": "resource_path",
    "routeKey": "route_key",
    "protocol": "protocol",
    "status": "status",
    "responseLength": "response_length",
    "requestId": "request_id",
    "extendedRequestId": "extended_request_id",
    "eventType": "event_type",
    "connectionId": "connection_id",
}


def render(template: str, values: dict[str, str]) -> str:
    """Fill `$context.<variable>` placeholders the way API Gateway does (longest names first)."""
    for variable in sorted(values, key=len, reverse=True):
        template = template.replace(f"$context.{variable}", values[variable])
    assert "$context" not in template
    return template


@pytest.mark.parametrize("api, syntax", sorted(TEMPLATES))
def test_each_console_default_format_parses_in_all_four_syntaxes(api, syntax):
    # GIVEN a line written by the console's default format for this API type and syntax
    values = VALUES[api]
    line = render(TEMPLATES[(api, syntax)], values)
    # WHEN parsed
    record = parse_ok(line)
    # THEN every variable of the template lands in its field, typed, and the record says which
    assert record.format == syntax
    carried = {
        VARIABLE_FIELDS[v] for v in values if v in VARIABLE_FIELDS and f"$context.{v}" in TEMPLATES[(api, syntax)]
    }
    assert record.fields_present == carried
    for variable, field_name in VARIABLE_FIELDS.items():
        if variable in values and field_name in carried:
            expected = int(values[variable]) if field_name in ("status", "response_length") else values[variable]
            assert getattr(record, field_name) == expected, field_name
    assert record.recovered is False


@pytest.mark.parametrize("api, syntax", sorted(TEMPLATES))
def test_console_formats_turn_dashes_into_none(api, syntax):
    # GIVEN a console-format line where every optional variable is "-"
    values = {v: ("-" if v not in ("requestId", "status", "requestTime") else x) for v, x in VALUES[api].items()}
    record = parse_ok(render(TEMPLATES[(api, syntax)], values))
    # THEN those fields are None, not the string "-"
    assert record.status == int(values["status"])
    assert record.ip is None and record.response_length is None and record.protocol is None
    assert record.http_method is None and record.resource_path is None and record.connection_id is None


def test_clf_variants_seen_in_the_wild():
    rid = "7c1d3f0e-5b2a-4c8e-9f41-2d6a8b0e9c13"
    # GIVEN the CDK AccessLogFormat.clf() (no extendedRequestId)
    cdk = parse_ok(f'203.0.113.7 - - [26/Nov/2025:09:14:03 +0000] "GET /pets HTTP/1.1" 200 184 {rid}')
    assert (cdk.status, cdk.request_id, cdk.resource_path, cdk.extended_request_id) == (200, rid, "/pets", None)
    # GIVEN the current docs' rendering without a space before the quote
    tight = parse_ok(f'203.0.113.7 - - [26/Nov/2025:09:14:03 +0000]"GET /pets HTTP/1.1" 200 184 {rid} YIwYiFstIAMESqA=')
    assert (tight.status, tight.extended_request_id) == (200, "YIwYiFstIAMESqA=")
    # GIVEN the CloudFormation example: extendedRequestId first
    cfn = parse_ok(f'YIwYiFstIAMESqA= 203.0.113.7 - - [26/Nov/2025:09:14:03 +0000] "GET /pets HTTP/1.1" 200 184 {rid}')
    assert (cfn.extended_request_id, cfn.ip, cfn.request_id) == ("YIwYiFstIAMESqA=", "203.0.113.7", rid)
    # GIVEN the HTTP console CLF of the current docs (extendedRequestId appended)
    http = parse_ok(
        '198.51.100.23 - - [26/Nov/2025:09:14:04 +0000] "GET GET /pets HTTP/1.1" 200 42 '
        "fQke_hDCDoEEMpw= fQke_hDCDoEEMpw="
    )
    assert (http.route_key, http.extended_request_id, http.integration_error) == ("GET /pets", "fQke_hDCDoEEMpw=", None)
    # GIVEN the terraform default on a healthy request: integrationErrorMessage is "-"
    ok = parse_ok('198.51.100.23 - - [26/Nov/2025:09:14:04 +0000] "GET GET /pets HTTP/1.1" 200 42 fQke_hDCDoEEMpw= -')
    assert ok.integration_error is None and "integration_error" in ok.fields_present


# --------------------------------------------------------------------------------------------------
# Custom JSON: the error line, naming styles, nesting, field maps
# --------------------------------------------------------------------------------------------------

ERROR_LINE_VALUES = {
    "requestId": "7c1d3f0e-5b2a-4c8e-9f41-2d6a8b0e9c13",
    "extendedRequestId": "YIwYiFstIAMESqA=",
    "apiId": "a1b2c3d4e5",
    "stage": "prod",
    "httpMethod": "POST",
    "resourcePath": "/orders/{orderId}",
    "path": "/prod/orders/42",
    "status": "502",
    "protocol": "HTTP/1.1",
    "responseLength": "36",
    "requestTime": "26/Nov/2025:09:14:03 +0000",
    "requestTimeEpoch": "1764148443123",
    "identity.sourceIp": "203.0.113.7",
    "identity.userAgent": "okhttp/4.12.0",
    "identity.apiKeyId": "k3y1d",
    "error.responseType": "INTEGRATION_FAILURE",
    "error.message": "Internal server error",
    "integration.error": "Lambda Customer Function Error:'AZUL_S3_BUCKET'",
    "integration.status": "-",
    "integration.integrationStatus": "200",
    "integration.latency": "1873",
    "responseLatency": "1902",
    "authorizer.latency": "12",
    "authorizer.error": "-",
    "authorizer.status": "200",
    "waf.status": "-",
}
ERROR_LINE_EXPECTED = dict(
    status=502,
    request_id="7c1d3f0e-5b2a-4c8e-9f41-2d6a8b0e9c13",
    extended_request_id="YIwYiFstIAMESqA=",
    api_id="a1b2c3d4e5",
    stage="prod",
    http_method="POST",
    resource_path="/orders/{orderId}",
    path="/prod/orders/42",
    protocol="HTTP/1.1",
    response_length=36,
    request_time="26/Nov/2025:09:14:03 +0000",
    request_time_epoch_ms=1764148443123,
    ip="203.0.113.7",
    user_agent="okhttp/4.12.0",
    api_key_id="k3y1d",
    error_response_type="INTEGRATION_FAILURE",
    error_message="Internal server error",
    integration_error="Lambda Customer Function Error:'AZUL_S3_BUCKET'",
    integration_status=None,
    integration_service_status=200,
    integration_latency_ms=1873.0,
    response_latency_ms=1902.0,
    authorizer_latency_ms=12.0,
    authorizer_error=None,
    authorizer_status=200,
    waf_response_code=None,
)


def snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


NAMING_STYLES = {
    "dotted": lambda v: v,
    "$context-prefixed": lambda v: f"$context.{v}",
    "context-prefixed": lambda v: f"context.{v}",
    "snake_of_dotted": lambda v: v.replace(".", "_"),  # error_responseType, integration_integrationStatus
    "fully_snake": lambda v: snake(v).replace(".", "_"),  # error_response_type, integration_integration_status
    "upper_case": lambda v: v.upper(),
}


def json_line(values: dict[str, str], style) -> str:
    return orjson.dumps({style(k): v for k, v in values.items()}).decode()


def test_a_rich_error_line_fills_every_field():
    # GIVEN the recommended custom JSON format on a failed Lambda call
    record = parse_ok(json_line(ERROR_LINE_VALUES, NAMING_STYLES["dotted"]))
    # THEN status, error type, integration error and latencies are all there, typed
    for name, expected in ERROR_LINE_EXPECTED.items():
        assert getattr(record, name) == expected, name
    assert record.fields_present == frozenset(ERROR_LINE_EXPECTED)


@pytest.mark.parametrize("style", sorted(NAMING_STYLES))
def test_all_naming_styles_of_the_same_variables_give_identical_records(style):
    # GIVEN the same values logged under another key naming style
    reference = parse_ok(json_line(ERROR_LINE_VALUES, NAMING_STYLES["dotted"]))
    # WHEN parsed THEN the record is identical
    assert parse_ok(json_line(ERROR_LINE_VALUES, NAMING_STYLES[style])) == reference


def test_camel_case_aliases_give_the_same_record_as_dotted_names():
    camel = {
        "requestId": "r-1",
        "status": "502",
        "errorResponseType": "INTEGRATION_TIMEOUT",
        "errorMessage": "Endpoint request timed out",
        "integrationErrorMessage": "timeout",
        "integrationStatus": "200",
        "integrationLatency": "29001",
        "authorizerLatency": "3",
        "authorizerError": "-",
        "authorizerStatus": "200",
        "wafResponseCode": "WAF_ALLOW",
        "sourceIp": "192.0.2.1",
        "userAgent": "curl/8.5.0",
        "apiKeyId": "k1",
    }
    dotted = {
        "requestId": "r-1",
        "status": "502",
        "error.responseType": "INTEGRATION_TIMEOUT",
        "error.message": "Endpoint request timed out",
        "integration.error": "timeout",
        "integration.integrationStatus": "200",
        "integration.latency": "29001",
        "authorizer.latency": "3",
        "authorizer.error": "-",
        "authorizer.status": "200",
        "wafResponseCode": "WAF_ALLOW",
        "identity.sourceIp": "192.0.2.1",
        "identity.userAgent": "curl/8.5.0",
        "identity.apiKeyId": "k1",
    }
    assert parse_ok(orjson.dumps(camel).decode()) == parse_ok(orjson.dumps(dotted).decode())


def test_integration_status_and_the_lambda_service_status_are_different_fields():
    # GIVEN a function that returned 404 through a successful (200) Lambda invoke
    record = parse_ok('{"requestId":"r","status":"404","integration.status":"404","integrationStatus":"200"}')
    assert (record.integration_status, record.integration_service_status) == (404, 200)
    snake_record = parse_ok(
        '{"request_id":"r","status":"404","integration_status":"404","integration_integrationStatus":"200"}'
    )
    assert (snake_record.integration_status, snake_record.integration_service_status) == (404, 200)


def test_nested_objects_flatten_to_dotted_names():
    # GIVEN a format that groups variables in nested objects
    nested = {
        "requestId": "r-9",
        "status": "504",
        "error": {"message": "Endpoint request timed out", "responseType": "INTEGRATION_TIMEOUT"},
        "integration": {"status": "-", "integrationStatus": "200", "latency": "29012", "error": "-"},
        "identity": {"sourceIp": "192.0.2.9"},
        "context": {"stage": "prod"},
    }
    record = parse_ok(orjson.dumps(nested).decode())
    # THEN the nested values land where their dotted names point
    assert record.error_message == "Endpoint request timed out"
    assert record.error_response_type == "INTEGRATION_TIMEOUT"
    assert (record.integration_status, record.integration_service_status) == (None, 200)
    assert record.integration_latency_ms == 29012.0
    assert (record.ip, record.stage) == ("192.0.2.9", "prod")
    assert {"integration_error", "integration_status"} <= record.fields_present


def test_a_field_map_names_custom_keys_and_wins_over_the_built_in_aliases():
    line = '{"rid":"r-7","code":"503","fn":"boom","latency":"812","ip":"192.0.2.1"}'
    # GIVEN no field map: `latency` is taken as the response latency, and rid/code are unknown
    plain = parse_access_line(line)
    assert isinstance(plain, Rejection) and plain.reason == "no-status-or-request-id"
    # WHEN the user maps their keys (one of them overriding a built-in alias)
    field_map = {
        "rid": "request_id",
        "CODE": "status",
        "fn": "integration_error",
        "latency": "integration_latency_ms",
        "ip": "not-a-field",
    }
    record = parse_ok(line, field_map=field_map)
    # THEN their keys win (matched case-insensitively); an invalid target is ignored
    assert (record.request_id, record.status, record.integration_error) == ("r-7", 503, "boom")
    assert (record.integration_latency_ms, record.response_latency_ms) == (812.0, None)
    assert record.ip == "192.0.2.1"
    # AND a changed map (same object mutated) is honoured on the next line
    field_map["latency"] = "response_latency_ms"
    assert parse_ok(line, field_map=field_map).response_latency_ms == 812.0


def test_unquoted_numbers_and_garbage_numbers():
    record = parse_ok(
        '{"requestId":"r","status":502,"integrationLatency":12.5,"responseLatency":"fast",'
        '"responseLength":"abc","requestTimeEpoch":1764148443,"integration.status":"NaN",'
        '"stage":7,"integrationStatus":"inf"}'
    )
    assert record.status == 502 and record.integration_latency_ms == 12.5
    assert record.response_latency_ms is None and record.response_length is None
    assert record.request_time_epoch_ms == 1764148443000  # seconds are taken as seconds
    assert record.integration_status is None and record.integration_service_status is None
    assert record.stage == "7"


def test_unknown_keys_are_ignored_and_values_of_the_wrong_shape_become_none():
    record = parse_ok(
        '{"requestId":"r","status":"200","domainName":"x.example","xrayTraceId":"Root=1",'
        '"userAgent":["a"],"ip":null,"stage":true}'
    )
    assert record.fields_present == {"request_id", "status", "user_agent", "ip", "stage"}
    assert record.user_agent is None and record.ip is None and record.stage is None


def test_many_lines_of_one_format_parse_like_the_first():
    # GIVEN many lines of one layout (the parser specialises its reader for a repeated layout)
    template = dict(ERROR_LINE_VALUES)
    records = []
    for i in range(40):
        template["requestId"] = f"req-{i}"
        template["status"] = "-" if i % 7 == 0 else str(500 + i % 5)
        template["integration.latency"] = str(i * 10)
        records.append((i, parse_access_line(json_line(template, NAMING_STYLES["dotted"]), timestamp=i)))
    # THEN every record carries its own values, including the absent status
    for i, record in records:
        assert isinstance(record, AccessRecord)
        assert record.request_id == f"req-{i}" and record.timestamp == i
        assert record.status == (None if i % 7 == 0 else 500 + i % 5)
        assert record.integration_latency_ms == float(i * 10)
        expected = dataclasses.replace(
            records[1][1],
            request_id=record.request_id,
            status=record.status,
            integration_latency_ms=record.integration_latency_ms,
            timestamp=i,
        )
        assert record == expected


# --------------------------------------------------------------------------------------------------
# Invalid JSON that API Gateway produces (values are not escaped)
# --------------------------------------------------------------------------------------------------


def test_unescaped_quotes_inside_a_value_are_recovered():
    record = parse_ok('{"requestId":"r-1","status":"400","errorMessage":"Invalid "id" value","ip":"192.0.2.1"}')
    assert (record.status, record.error_message, record.ip) == (400, 'Invalid "id" value', "192.0.2.1")
    assert record.recovered is True


def test_a_quote_comma_key_pattern_inside_a_value_is_kept_in_the_value():
    record = parse_ok('{"requestId":"r","status":"400","errorMessage":"bad body", "id": required","ip":"192.0.2.1"}')
    assert record.error_message == 'bad body", "id": required'
    assert record.ip == "192.0.2.1" and record.recovered


def test_doubled_braces_are_recovered():
    record = parse_ok('{{"requestId":"r-2","status":"500","routeKey":"GET /path"}}')
    assert (record.request_id, record.status, record.route_key, record.recovered) == ("r-2", 500, "GET /path", True)


def test_unquoted_dash_numbers_are_absent():
    record = parse_ok('{"requestId":"r-3","status":-,"integrationLatency":-,"responseLatency":41}')
    assert (record.status, record.integration_latency_ms, record.response_latency_ms) == (None, None, 41.0)
    assert {"status", "integration_latency_ms"} <= record.fields_present and record.recovered


def test_the_message_string_variable_with_its_own_quotes():
    line = (
        '{"requestId":"r-4","status":"504","error_message": "Endpoint request timed out", '
        '"error_messageString": " "Endpoint request timed out"", "error_responseType": "INTEGRATION_TIMEOUT", '
        '"extendedRequestId": "YIwYiFstIAMESqA="}'
    )
    record = parse_ok(line)
    assert (record.error_message, record.error_response_type) == ("Endpoint request timed out", "INTEGRATION_TIMEOUT")
    # AND when only the quoted variant is logged, its quotes are dropped
    only = parse_ok('{"requestId":"r-5","status":"504","error.messageString":" "Endpoint request timed out""}')
    assert only.error_message == "Endpoint request timed out"


def test_trailing_garbage_after_the_object_is_ignored():
    record = parse_ok('{"requestId":"r-6","status":"200","ip":"192.0.2.1"} \x00garbage "x"')
    assert (record.request_id, record.status, record.ip, record.recovered) == ("r-6", 200, "192.0.2.1", True)


def test_a_truncated_line_keeps_its_complete_pairs():
    # GIVEN a line cut in the middle of a value
    line = json_line(ERROR_LINE_VALUES, NAMING_STYLES["dotted"])
    cut = line[: line.index("Lambda Customer") + 6]
    record = parse_ok(cut)
    # THEN every pair before the cut is kept and the cut value is dropped, not half-read
    assert record.status == 502 and record.error_response_type == "INTEGRATION_FAILURE"
    assert record.integration_error is None and record.recovered
    # AND a cut bare number is not taken at face value
    number_cut = parse_ok('{"requestId":"r-7","status":"200","responseLatency":19')
    assert number_cut.response_latency_ms is None and number_cut.status == 200


def test_nested_objects_with_unescaped_quotes_are_recovered_with_their_dotted_names():
    record = parse_ok(
        '{"requestId":"r-8","error":{"message":"x "y" z","responseType":"DEFAULT_5XX"},'
        '"integration":{"status":"500","integrationStatus":"200"},"status":"502"}'
    )
    assert (record.error_message, record.error_response_type) == ('x "y" z', "DEFAULT_5XX")
    assert (record.integration_status, record.integration_service_status, record.status) == (500, 200, 502)


def test_pretty_printed_lines_parse():
    assert parse_ok(CORPUS["A15"]).status == 400  # valid, multi-line
    assert parse_ok("\n  " + CORPUS["A01"]).status == 200  # leading blank


def test_json_with_nothing_usable_is_rejected_as_invalid_json():
    for line in ('{"caller":"-","user":"-" broken', "{" * 1000, '{"a":"' + '\\"' * 50, '{"status":"}'):
        result = parse_access_line(line)
        assert isinstance(result, Rejection), line
        assert (result.source, result.reason) == ("access", "invalid-json")
        assert len(result.sample) <= 80


# --------------------------------------------------------------------------------------------------
# Rejections and the sniff
# --------------------------------------------------------------------------------------------------


def test_unrecognised_lines_are_rejected_with_a_short_clean_sample():
    line = "START RequestId: 8f5e\x1b[31m Version: $LATEST\t" + "x" * 500
    result = parse_access_line(line)
    assert isinstance(result, Rejection)
    assert (result.source, result.reason) == ("access", "unrecognised-access-format")
    assert len(result.sample) == 80 and result.sample.startswith("START RequestId: 8f5e")
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in result.sample)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "-",
        "hello, world",
        '"just a string"',
        "[1, 2]",
        "<html><body>x</body></html>",
        '1.2.3.4 - - [not a time] "GET / HTTP/1.1" 200',
    ],
)
def test_other_text_is_rejected_not_raised(line):
    result = parse_access_line(line)
    assert isinstance(result, Rejection) and result.reason in ("unrecognised-access-format", "no-status-or-request-id")


def test_valid_json_that_is_not_an_access_line_is_rejected():
    result = parse_access_line('{"level":"INFO","message":"cold start"}')
    assert isinstance(result, Rejection) and result.reason == "no-status-or-request-id"


@pytest.mark.parametrize("value", [None, b'{"status":"200"}', 42])
def test_non_text_input_is_rejected(value):
    result = parse_access_line(value)  # type: ignore[arg-type]
    assert isinstance(result, Rejection) and result.reason == "unrecognised-access-format"


def test_the_sniff_accepts_every_access_line_and_no_execution_line():
    assert all(looks_like_access_line(raw) for raw in CORPUS.values())
    for api, syntax in TEMPLATES:
        assert looks_like_access_line(render(TEMPLATES[(api, syntax)], VALUES[api]))
    execution = [entry["message"] for entry in corpus_execution()]
    assert execution and not any(looks_like_access_line(message) for message in execution)
    assert not looks_like_access_line("plain text") and not looks_like_access_line(None)  # type: ignore[arg-type]


def test_canonical_fields_are_the_record_fields_a_format_can_carry():
    names = {f.name for f in dataclasses.fields(AccessRecord)}
    assert names - {"format", "timestamp", "recovered", "fields_present", "suspicious"} == CANONICAL_FIELDS
    assert {"status", "integration_service_status", "error_response_type"} <= CANONICAL_FIELDS


def test_an_error_message_holding_a_key_like_text_keeps_the_status_before_it():
    # GIVEN an unescaped error message `,"0":` right after the status (found by the property test)
    line = '{"requestId":"r-1","status":"502","errorMessage":","0":","integrationLatency":"120","ip":"192.0.2.1"}'
    # WHEN repaired  THEN the status is not swallowed into the message: only free-text fields take such text
    record = parse_access_line(line)
    assert (record.request_id, record.status, record.error_message) == ("r-1", 502, ',"0":')
