"""Classification per DESIGN §4, on real execution-log lines (corpus) and realistic access records.

The access-record tests build AccessRecord directly so they pin the classifier alone; the end-to-end
tests in test_engine_e2e.py go through the parsers with the same cases.
"""

import pytest

from gatewatch.classify.classifier import (
    classify_access,
    classify_execution,
    classify_latency,
    execution_cause,
    merge_classified,
    route_for_access,
    text_category,
)
from gatewatch.classify.taxonomy import ErrorCategory as C
from gatewatch.classify.taxonomy import Retry
from gatewatch.config import ApiSettings
from gatewatch.models import AccessRecord, ExecutionRequest, LatencyClass
from tests.helpers import corpus_execution

SETTINGS = ApiSettings()


def lines(*numbers: int) -> tuple[str, ...]:
    """Corpus execution lines by number, with the '(id) ' prefix and any viewer prefix removed."""
    by_n = {e["n"]: e["message"] for e in corpus_execution()}
    out = []
    for n in numbers:
        msg = by_n[n]
        if msg.startswith("(") and ") " in msg:
            msg = msg.split(") ", 1)[1]
        elif " : " in msg[:40]:
            msg = msg.split(" : ", 1)[1]
        elif "(" in msg[:40] and ") " in msg:
            msg = msg.split(") ", 1)[1]
        out.append(msg)
    return tuple(out)


def exec_request(text_lines, status) -> ExecutionRequest:
    return ExecutionRequest(
        request_id="r-1",
        lines=tuple(text_lines),
        api_id="uwe3g5jm54",
        stage="Prod",
        status=status,
        http_method="GET",
        resource_path="/echo",
        complete=status is not None,
    )


@pytest.mark.parametrize(
    "numbers,status,expected",
    [
        ((15, 16, 17, 18, 19), 502, C.LAMBDA_TIMEOUT),  # S01: function timed out (Task timed out after 10.00 seconds)
        ((24, 25), 429, C.THROTTLED),  # S01: Key throttle limit exceeded
        ((194, 195), 504, C.INTEGRATION_TIMEOUT),  # S04: Execution failed due to a timeout error
        ((196, 197, 198), 502, C.MALFORMED_RESPONSE),  # S04: Malformed Lambda proxy response
        ((199, 200), 500, C.INTEGRATION_PERMISSION),  # S04: Invalid permissions on Lambda function
        ((201, 202, 203), 500, C.BACKEND_THROTTLED),  # S04: Lambda 429 + "configuration error: Rate Exceeded."
        ((204, 205), 502, C.LAMBDA_ERROR),  # S04: customer function error
        ((210, 211, 213, 214), 502, C.BACKEND_THROTTLED),  # S05: a Lambda 429 body surfacing as "Malformed"
        ((216, 217), 401, C.UNAUTHORIZED),  # S06: Unauthorized request
        ((219, 220, 221), 500, C.AUTHORIZER_ERROR),  # S07: WebSocket authorizer permission
        ((222, 223, 224), 500, C.AUTHORIZER_ERROR),  # S08: cannot assume the authorizer role
        ((244, 245), 403, C.INVALID_API_KEY),  # S12: API key not in a usage plan
        ((276, 277), 500, C.AUTHORIZER_ERROR),  # S19: Could not parse policy
    ],
)
def test_real_execution_lines_are_classified_by_their_cause(numbers, status, expected):
    # GIVEN a real request's execution-log lines  WHEN classified
    result = classify_execution(exec_request(lines(*numbers), status), SETTINGS)
    # THEN the cause line decides, and the evidence quotes it
    assert result.category is expected
    assert result.status == status
    assert result.evidence and result.evidence_rank == 5


def test_tls_host_mismatch_is_not_retried_although_it_says_configuration_error():
    by_n = {e["n"]: e["message"] for e in corpus_execution()}
    tls_line = next(m for m in by_n.values() if "does not match the certificate" in m)
    text = tls_line[tls_line.index("Execution failed") :]
    result = classify_execution(exec_request([text, "Method completed with status: 500"], 500), SETTINGS)
    assert result.category is C.TLS_ERROR and result.retry is Retry.NO


def test_success_is_ok_even_with_error_looking_lines():
    # GIVEN a request that completed 200 although a body mentions an error
    req = exec_request(
        [
            'Endpoint response body before transformations: {"errorMessage":"Rate Exceeded"}',
            "Method completed with status: 200",
        ],
        200,
    )
    assert classify_execution(req, SETTINGS).category is C.OK


def test_execution_request_without_cause_falls_back_to_status():
    result = classify_execution(exec_request(["Method completed with status: 503"], 503), SETTINGS)
    assert result.category is C.SERVICE_UNAVAILABLE and result.evidence_rank == 1


def access(**kw) -> AccessRecord:
    base = dict(
        format="json", request_id="a-1", api_id="a1b2c3", stage="prod", http_method="GET", resource_path="/pets/{petId}"
    )
    base.update(kw)
    return AccessRecord(**base)


@pytest.mark.parametrize(
    "fields,expected",
    [
        (dict(status=429, error_response_type="QUOTA_EXCEEDED", error_message="Limit Exceeded"), C.QUOTA_EXCEEDED),
        (dict(status=429, error_response_type="THROTTLED", error_message="Too Many Requests"), C.THROTTLED),
        (dict(status=429, error_message="Limit Exceeded"), C.QUOTA_EXCEEDED),
        (dict(status=429, error_message="Too Many Requests"), C.THROTTLED),
        (
            dict(status=403, error_response_type="MISSING_AUTHENTICATION_TOKEN", resource_path=None),
            C.MISSING_AUTH_TOKEN,
        ),
        (dict(status=403, error_message="Missing Authentication Token"), C.MISSING_AUTH_TOKEN),
        (dict(status=403, error_response_type="WAF_FILTERED", error_message="Forbidden"), C.WAF_BLOCKED),
        (dict(status=403, waf_response_code="WAF_BLOCK"), C.WAF_BLOCKED),
        (dict(status=403, error_response_type="INVALID_API_KEY"), C.INVALID_API_KEY),
        (dict(status=403, error_response_type="EXPIRED_TOKEN"), C.ACCESS_DENIED),
        (
            dict(status=400, error_response_type="BAD_REQUEST_BODY", error_message="Invalid request body"),
            C.BAD_REQUEST_BODY,
        ),
        (dict(status=400, error_response_type="BAD_REQUEST_PARAMETERS"), C.BAD_REQUEST_PARAMETERS),
        (
            dict(
                status=400,
                error_response_type="DEFAULT_4XX",
                error_message="Invalid key=value pair (missing equal-sign) in Authorization header",
            ),
            C.BAD_REQUEST,
        ),
        (dict(status=413, error_response_type="REQUEST_TOO_LARGE"), C.PAYLOAD_TOO_LARGE),
        (dict(status=415, error_response_type="UNSUPPORTED_MEDIA_TYPE"), C.UNSUPPORTED_MEDIA_TYPE),
        (dict(status=404, error_response_type="RESOURCE_NOT_FOUND"), C.NOT_FOUND),
        (dict(status=404, integration_status=404), C.NOT_FOUND),
        (dict(status=409, integration_status=409), C.CONFLICT),
        (
            dict(
                status=502,
                error_response_type="INTEGRATION_FAILURE",
                error_message="Internal server error",
                integration_error="Lambda Customer Function Error:'AZUL_S3_BUCKET'",
            ),
            C.LAMBDA_ERROR,
        ),
        (
            dict(
                status=502,
                error_response_type="INTEGRATION_FAILURE",
                integration_error="Task timed out after 10.00 seconds",
            ),
            C.LAMBDA_TIMEOUT,
        ),
        (
            dict(status=504, error_response_type="INTEGRATION_TIMEOUT", error_message="Endpoint request timed out"),
            C.INTEGRATION_TIMEOUT,
        ),
        (
            dict(
                status=500,
                error_response_type="API_CONFIGURATION_ERROR",
                error_message="Execution failed due to configuration error: Rate Exceeded.",
            ),
            C.BACKEND_THROTTLED,
        ),
        (
            dict(
                status=500,
                error_message="Execution failed due to configuration error: Host name 'api.internal' does not "
                "match the certificate subject provided by the peer (CN=*.example.com)",
            ),
            C.TLS_ERROR,
        ),
        (dict(status=500, integration_service_status=429), C.BACKEND_THROTTLED),
        (
            dict(
                status=500,
                integration_error="API Gateway doesn’t have permissions to assume the IAM role configured on "
                "the integration. Check the permissions and try again.",
            ),
            C.INTEGRATION_PERMISSION,
        ),
        (
            dict(
                status=500,
                authorizer_error="The response from the Lambda Authorizer function doesn't match the format "
                "that API Gateway expects. Simple response did not include 'isAuthorized'",
            ),
            C.AUTHORIZER_ERROR,
        ),
        (
            dict(
                status=502,
                integration_error="The response from the Lambda function doesn't match the format that API "
                "Gateway expects.",
            ),
            C.MALFORMED_RESPONSE,
        ),
        (dict(status=504, integration_error="Network error communicating with endpoint"), C.NETWORK_ERROR),
        (dict(status=500, error_response_type="AUTHORIZER_CONFIGURATION_ERROR"), C.AUTHORIZER_ERROR),
        (dict(status=503, integration_status=503), C.SERVICE_UNAVAILABLE),
        (dict(status=500, integration_status=429), C.BACKEND_THROTTLED),
        (dict(status=500), C.INTERNAL_ERROR),
        (dict(status=418), C.CLIENT_ERROR_OTHER),
        (dict(status=200, error_message="-"), C.OK),
    ],
)
def test_access_records_are_classified_by_the_most_specific_evidence(fields, expected):
    assert classify_access(access(**fields), SETTINGS).category is expected


def test_status_only_classification_is_marked_as_such():
    result = classify_access(access(status=502), SETTINGS)
    assert result.category is C.BAD_GATEWAY
    assert "status only" in result.evidence and result.evidence_rank == 1


def test_504_at_the_integration_timeout_is_evidence_of_a_timeout():
    result = classify_access(access(status=504, integration_latency_ms=29001.0, response_latency_ms=29010.0), SETTINGS)
    assert result.category is C.INTEGRATION_TIMEOUT and result.latency_class is LatencyClass.TIMEOUT
    assert "29000 ms timeout" in result.evidence


@pytest.mark.parametrize(
    "integration,response,expected",
    [
        (35.0, 41.0, LatencyClass.OK),
        (2500.0, 2510.0, LatencyClass.SLOW),
        (26500.0, 26600.0, LatencyClass.NEAR_TIMEOUT),
        (29000.0, 29003.0, LatencyClass.TIMEOUT),
        (None, 3000.0, LatencyClass.SLOW),
        (None, None, None),
    ],
)
def test_latency_class_against_the_default_timeout(integration, response, expected):
    assert classify_latency(response, integration, SETTINGS) is expected


def test_latency_class_uses_the_api_s_own_timeout():
    raised = ApiSettings(api_id="x", integration_timeout_ms=60_000)
    assert classify_latency(None, 30_000.0, raised) is LatencyClass.SLOW
    assert classify_latency(None, 55_000.0, raised) is LatencyClass.NEAR_TIMEOUT


def test_gateway_overhead_subtracts_integration_and_authorizer_latency():
    result = classify_access(
        access(status=200, response_latency_ms=120.0, integration_latency_ms=80.0, authorizer_latency_ms=25.0), SETTINGS
    )
    assert result.gateway_overhead_ms == 15.0


@pytest.mark.parametrize(
    "fields,route",
    [
        (dict(http_method="GET", resource_path="/pets/{petId}"), "GET /pets/{petId}"),
        (dict(route_key="POST /orders", http_method="POST", resource_path=None), "POST /orders"),
        (dict(route_key="$connect", http_method=None, resource_path=None), "$connect"),
        (dict(route_key="$default", http_method="GET", resource_path=None), "GET $default"),
        (dict(http_method="GET", resource_path=None, path="/prod/pets/42"), "UNMATCHED"),
    ],
)
def test_route_is_the_template_never_the_raw_path(fields, route):
    assert route_for_access(access(**fields)) == route


def test_execution_cause_outranks_access_fields_when_merged():
    # GIVEN the same request in both logs: the access log only knows a 502, execution logs know why
    a = classify_access(access(status=502, response_latency_ms=60.0, integration_latency_ms=50.0), SETTINGS)
    e = classify_execution(exec_request(lines(196, 197, 198), 502), SETTINGS)
    merged = merge_classified(a, e)
    # THEN the cause comes from the execution log and the latencies from the access log
    assert merged.category is C.MALFORMED_RESPONSE and merged.latency_ms == 60.0 and merged.source == "access+execution"


def test_text_rules_say_nothing_for_generic_messages():
    assert text_category("Internal server error") is None
    assert text_category(None) is None
    assert execution_cause(["Method completed with status: 500"]) is None


def test_a_handled_function_error_mapped_to_400_is_the_apis_design_not_a_lambda_error():
    # GIVEN S02: a non-proxy Lambda returns a handled error that an integration response maps to 400
    req = exec_request(
        [
            "Endpoint response headers: {x-amzn-Remapped-Content-Length=0, X-Amz-Function-Error=Handled}",
            "Method completed with status: 400",
        ],
        400,
    )
    assert classify_execution(req, SETTINGS).category is C.BAD_REQUEST
    # AND the same header on a 502 is the function's error
    req = exec_request(
        ["Endpoint response headers: {X-Amz-Function-Error=Unhandled}", "Method completed with status: 502"], 502
    )
    assert classify_execution(req, SETTINGS).category is C.LAMBDA_ERROR


def test_an_http_backend_answer_passed_through_is_the_backends_own_status():
    # GIVEN S33: an HTTP integration answers 403 and API Gateway passes it through
    req = exec_request(
        [
            "Received response. Status: 403, Integration latency: 13 ms",
            "Successfully completed execution",
            "Method completed with status: 403",
        ],
        403,
    )
    result = classify_execution(req, SETTINGS)
    assert (
        result.category is C.ACCESS_DENIED and "backend's own answer" in result.evidence and result.evidence_rank == 2
    )


@pytest.mark.parametrize(
    "fields,expected",
    [
        # a Lambda 429 under a generic API_CONFIGURATION_ERROR is a limit, not a config mistake
        (
            dict(
                status=500,
                error_response_type="API_CONFIGURATION_ERROR",
                error_message="Internal server error",
                integration_service_status=429,
            ),
            C.BACKEND_THROTTLED,
        ),
        # an HTTP integration's own 503 is in $context.integrationStatus: the backend is unavailable
        (dict(status=503, error_response_type="DEFAULT_5XX", integration_service_status=503), C.SERVICE_UNAVAILABLE),
        (dict(status=503, integration_service_status=503), C.SERVICE_UNAVAILABLE),
        # the Lambda service refusing API Gateway is a permission problem
        (dict(status=500, integration_service_status=403), C.INTEGRATION_PERMISSION),
    ],
)
def test_integration_status_refines_generic_types(fields, expected):
    assert classify_access(access(**fields), SETTINGS).category is expected


@pytest.mark.parametrize(
    "path,route",
    [
        ("/echo", "GET /echo"),
        ("/pets/42", "GET /pets/{id}"),
        ("/weather/coord/35.212,128.709", "GET /weather/coord/{id}"),
        ("/products/ec88c780f6", "GET /products/{id}"),
        ("/pets/{petId}", "GET /pets/{petId}"),
        ("/webpage-vpc", "GET /webpage-vpc"),
    ],
)
def test_execution_routes_never_carry_raw_values(path, route):
    req = ExecutionRequest(
        request_id="r", lines=("Method completed with status: 200",), status=200, http_method="GET", resource_path=path
    )
    assert classify_execution(req, SETTINGS).route == route


def test_a_lambda_403_that_could_not_tell_the_operation_is_a_setup_error_not_a_permission():
    # GIVEN a Lambda integration called with the wrong method: Lambda answers 403 with a body saying it
    # could not determine the service/operation (the request was never an invoke)
    lines = [
        "Received response. Status: 403, Integration latency: 6 ms",
        "Endpoint response body before transformations: <AccessDeniedException>\\n  <Message>Unable to determine "
        "service/operation name to be authorized</Message>\\n</AccessDeniedException>",
        "Lambda invocation failed with status: 403",
        "Execution failed due to configuration error: ",
        "Method completed with status: 500",
    ]
    # WHEN classified  THEN it is a configuration error (fix the integration), not a missing permission
    category, evidence = execution_cause(lines, 500)
    assert category is C.CONFIGURATION_ERROR and "service/operation" in evidence
    # AND a plain 403 from Lambda stays a permission problem
    assert execution_cause(lines[2:], 500)[0] is C.INTEGRATION_PERMISSION
    # AND the same words in an access log's integration error say the same
    assert text_category("Unable to determine service/operation name to be authorized") is C.CONFIGURATION_ERROR


def test_a_waf_block_decides_even_behind_a_generic_response_type():
    # GIVEN a 403 whose response type only says DEFAULT_4XX, but WAF logged that it blocked the request
    record = access(status=403, error_response_type="DEFAULT_4XX", waf_response_code="WAF_BLOCK")
    # THEN the WAF decides
    assert classify_access(record, SETTINGS).category is C.WAF_BLOCKED
