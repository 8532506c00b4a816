"""Decide *why* each request failed (DESIGN §4).

Evidence precedence, most specific first:
  5 an execution-log cause line
  4 a specific `error.responseType` (or a WAF block)
  3 integration error / error message / authorizer error text (also refines the generic
    DEFAULT_4XX, DEFAULT_5XX, INTEGRATION_FAILURE and API_CONFIGURATION_ERROR types)
  2 the integration's own status (what the backend or the Lambda service answered), latency at the timeout
  1 the client status alone (DESIGN's status-only fallback)
A request whose status is 2xx/3xx is OK whatever else it carries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import lru_cache

from gatewatch.classify.taxonomy import CATEGORY_TABLE, ErrorCategory, fallback_category
from gatewatch.config import ApiSettings
from gatewatch.constants import ROUTE_UNMATCHED
from gatewatch.models import AccessRecord, AccessSummary, ClassifiedRequest, ExecutionRequest, LatencyClass, RouteTally
from gatewatch.redact import short_sample

C = ErrorCategory

EVIDENCE_CHARS = 240

# Evidence ranks (higher wins when access and execution logs describe the same request).
RANK_EXECUTION = 5
RANK_RESPONSE_TYPE = 4
RANK_TEXT = 3
RANK_INTEGRATION_STATUS = 2
RANK_STATUS = 1
RANK_OK = 0

#: `$context.error.responseType` values that decide the category by themselves.
SPECIFIC_RESPONSE_TYPES: dict[str, ErrorCategory] = {
    "BAD_REQUEST_BODY": C.BAD_REQUEST_BODY,
    "BAD_REQUEST_PARAMETERS": C.BAD_REQUEST_PARAMETERS,
    "UNAUTHORIZED": C.UNAUTHORIZED,
    "ACCESS_DENIED": C.ACCESS_DENIED,
    "INVALID_SIGNATURE": C.ACCESS_DENIED,
    "EXPIRED_TOKEN": C.ACCESS_DENIED,
    "INVALID_API_KEY": C.INVALID_API_KEY,
    "WAF_FILTERED": C.WAF_BLOCKED,
    "MISSING_AUTHENTICATION_TOKEN": C.MISSING_AUTH_TOKEN,
    "RESOURCE_NOT_FOUND": C.NOT_FOUND,
    "REQUEST_TOO_LARGE": C.PAYLOAD_TOO_LARGE,
    "UNSUPPORTED_MEDIA_TYPE": C.UNSUPPORTED_MEDIA_TYPE,
    "QUOTA_EXCEEDED": C.QUOTA_EXCEEDED,
    "THROTTLED": C.THROTTLED,
    "AUTHORIZER_FAILURE": C.AUTHORIZER_ERROR,
    "AUTHORIZER_CONFIGURATION_ERROR": C.AUTHORIZER_ERROR,
    "INTEGRATION_TIMEOUT": C.INTEGRATION_TIMEOUT,
}

#: Response types that only say "something went wrong": the message text refines them.
GENERIC_RESPONSE_TYPES: dict[str, ErrorCategory | None] = {
    "DEFAULT_4XX": None,
    "DEFAULT_5XX": None,
    "INTEGRATION_FAILURE": C.BAD_GATEWAY,
    "API_CONFIGURATION_ERROR": C.CONFIGURATION_ERROR,
}

# Free-text rules, checked in order on the lower-cased text. Order matters: a limit error that says
# "configuration error: Rate Exceeded" is BACKEND_THROTTLED, a TLS failure that says "configuration
# error" is TLS_ERROR, and an authorizer's permission problem is AUTHORIZER_ERROR.
_TEXT_RULES: tuple[tuple[tuple[str, ...], ErrorCategory], ...] = (
    (("task timed out after",), C.LAMBDA_TIMEOUT),
    (
        (
            "lambda invocation failed with status: 429",
            "rate exceeded",
            "toomanyrequestsexception",
            "provisionedthroughputexceeded",
            "throttlingexception",
            "concurrentinvocationlimitexceeded",
            "requestlimitexceeded",
            "slowdown",
        ),
        C.BACKEND_THROTTLED,
    ),
    (("authorizer", "could not parse policy", "isauthorized"), C.AUTHORIZER_ERROR),
    (("does not match the certificate", "certificate", "ssl", "tls handshake", "pkix", "handshake"), C.TLS_ERROR),
    (
        (
            "invalid permissions on lambda function",
            "permission to assume",
            "permissions to assume",
            "have permissions to call",
            "have permission to call",
            "not authorized to perform",
            "accessdeniedexception",
            "doesn't have permissions",
            "doesn’t have permissions",
            "does not have permissions",
        ),
        C.INTEGRATION_PERMISSION,
    ),
    (
        (
            "malformed lambda proxy response",
            "doesn't match the format that api gateway expects",
            "does not match the format that api gateway expects",
        ),
        C.MALFORMED_RESPONSE,
    ),
    (("customer function error", "function error", "unhandled"), C.LAMBDA_ERROR),
    (
        (
            "network error",
            "unknownhostexception",
            "connection refused",
            "connection reset",
            "name or service not known",
            "no route to host",
            "vpc link",
            "could not resolve",
            "connect timed out",
        ),
        C.NETWORK_ERROR,
    ),
    (("endpoint request timed out", "timeout error", "timed out", "integration timeout"), C.INTEGRATION_TIMEOUT),
    (("invalid request body", "does not match model schema", "request body does not match"), C.BAD_REQUEST_BODY),
    (("missing required request parameters", "invalid request parameter"), C.BAD_REQUEST_PARAMETERS),
    (("missing authentication token",), C.MISSING_AUTH_TOKEN),
    (("limit exceeded", "quota"), C.QUOTA_EXCEEDED),
    (("too many requests", "throttle"), C.THROTTLED),
    (("invalid api key", "forbidden: api key", "api key"), C.INVALID_API_KEY),
    (("request too large", "request entity too large", "payload too large", "request too long"), C.PAYLOAD_TOO_LARGE),
    (("unsupported media type",), C.UNSUPPORTED_MEDIA_TYPE),
    (("unauthorized",), C.UNAUTHORIZED),
    (
        (
            "configuration error",
            "invalid endpoint address",
            "output mapping",
            "mapping template",
            "unable to transform",
            "no match for output mapping",
        ),
        C.CONFIGURATION_ERROR,
    ),
    (("service unavailable",), C.SERVICE_UNAVAILABLE),
)

# Execution-log lines that state a cause, by the start of their text (after the "(id) " prefix).
_EXEC_CAUSE_STARTS: tuple[str, ...] = (
    "Execution failed due to",
    "Lambda execution failed",
    "Lambda invocation failed",
    "Unauthorized request",
    "Gateway response type:",
    "AuthorizerConfigurationException",
    "Authorizer error",
    "Request body does not match",
    "Invalid request body",
    "Missing required request parameters",
    "Network error communicating",
)
_EXEC_CAUSE_CONTAINS: tuple[tuple[str, ErrorCategory], ...] = (
    ("throttle limit exceeded", C.THROTTLED),
    ("not authorized because", C.INVALID_API_KEY),
    ("quota exceeded", C.QUOTA_EXCEEDED),
    ("Quota exceeded", C.QUOTA_EXCEEDED),
    ("Limit Exceeded", C.QUOTA_EXCEEDED),
)
_BODY_LINE = "Endpoint response body before transformations:"
_RESPONSE_HEADERS = "Endpoint response headers:"


@lru_cache(maxsize=4096)
def text_category(text: str | None) -> ErrorCategory | None:
    """The category a free-text error message points to, or None when it says nothing specific.

    Cached: during an incident the same message repeats on every failing request."""
    if not text:
        return None
    low = text.lower()
    for needles, category in _TEXT_RULES:
        for needle in needles:
            if needle in low:
                return category
    return None


def category_for_response_type(response_type: str | None) -> tuple[ErrorCategory | None, bool]:
    """(category, is_generic) for an `error.responseType` value; (None, False) when absent/unknown."""
    if not response_type:
        return None, False
    rt = response_type.strip().upper()
    specific = SPECIFIC_RESPONSE_TYPES.get(rt)
    if specific is not None:
        return specific, False
    if rt in GENERIC_RESPONSE_TYPES:
        return GENERIC_RESPONSE_TYPES[rt], True
    return None, False


def _lambda_invocation_status_category(status: int) -> ErrorCategory:
    if status == 429:
        return C.BACKEND_THROTTLED
    if status in (401, 403):
        return C.INTEGRATION_PERMISSION
    if status in (400, 404, 413):
        return C.CONFIGURATION_ERROR
    return C.BAD_GATEWAY


def execution_cause(lines: Iterable[str], status: int | None = None) -> tuple[ErrorCategory, str] | None:
    """Scan a request's execution-log lines for the line that explains the failure."""
    found: list[tuple[ErrorCategory, str]] = []
    authorizer_seen = False
    throttled_body: str | None = None
    function_error_header: str | None = None
    for line in lines:
        if line.startswith(_BODY_LINE):
            low = line.lower()
            if (
                "rate exceeded" in low
                or "toomanyrequestsexception" in low
                or "concurrentinvocationlimitexceeded" in low
            ):
                throttled_body = line
            continue
        if line.startswith(_RESPONSE_HEADERS):
            if "X-Amz-Function-Error=" in line:
                function_error_header = line
            continue
        if line.startswith(_EXEC_CAUSE_STARTS):
            if line.startswith("Gateway response type:"):
                rt = line[len("Gateway response type:") :].strip().split(" ", 1)[0]
                cat, generic = category_for_response_type(rt)
                if cat is not None and not generic:
                    if cat is C.AUTHORIZER_ERROR:
                        authorizer_seen = True
                    found.append((cat, line))
                continue
            if line.startswith("Lambda invocation failed with status:"):
                digits = line[len("Lambda invocation failed with status:") :].strip()[:3]
                if digits.isdigit():
                    found.append((_lambda_invocation_status_category(int(digits)), line))
                    continue
            if line.startswith(("AuthorizerConfigurationException", "Authorizer error")):
                authorizer_seen = True
                found.append((C.AUTHORIZER_ERROR, line))
                continue
            if line.startswith("Unauthorized request"):
                found.append((C.UNAUTHORIZED, line))
                continue
            cat = text_category(line)
            if cat is C.AUTHORIZER_ERROR:
                authorizer_seen = True
            if cat is None and line.startswith("Execution failed due to"):
                cat = C.INTERNAL_ERROR if "internal error" in line else C.CONFIGURATION_ERROR
            if cat is not None:
                found.append((cat, line))
            continue
        for needle, cat in _EXEC_CAUSE_CONTAINS:
            if needle in line:
                found.append((cat, line))
                break
    if not found:
        if function_error_header is not None and (status is None or status >= 500):
            # A "Handled" function error mapped to a 4xx by an integration response is the API's design.
            return C.LAMBDA_ERROR, function_error_header
        return None
    categories = [c for c, _ in found]
    # A Lambda 429 passed through as the body makes API Gateway say "Malformed Lambda proxy response":
    # the real cause is the limit (corpus S05).
    if throttled_body is not None and C.MALFORMED_RESPONSE in categories:
        return C.BACKEND_THROTTLED, throttled_body
    if C.BACKEND_THROTTLED in categories:
        return next(f for f in found if f[0] is C.BACKEND_THROTTLED)
    # The authorizer's own permission/config problem is an authorizer error (corpus S07, S08).
    if authorizer_seen:
        return next(f for f in found if f[0] is C.AUTHORIZER_ERROR)
    if C.LAMBDA_TIMEOUT in categories:
        return next(f for f in found if f[0] is C.LAMBDA_TIMEOUT)
    return found[0]


_RECEIVED = "Received response. Status: "


def _received_status(lines: Iterable[str]) -> int | None:
    """The HTTP integration's own status from "Received response. Status: N, Integration latency: ..."."""
    for line in lines:
        if line.startswith(_RECEIVED):
            digits = line[len(_RECEIVED) : len(_RECEIVED) + 3]
            return int(digits) if digits.isdigit() else None
    return None


def route_for_access(record: AccessRecord | AccessSummary) -> str:
    """`METHOD /resource/{template}`, a WebSocket/HTTP route key, or UNMATCHED — never the raw path."""
    return route_of(record.http_method, record.resource_path, record.route_key)


def route_of(http_method: str | None, resource_path: str | None, route_key: str | None) -> str:
    if route_key:
        if " " in route_key:
            return route_key
        if route_key.startswith("$"):
            return f"{http_method} {route_key}" if http_method and route_key == "$default" else route_key
    if resource_path and http_method:
        return f"{http_method} {resource_path}"
    return ROUTE_UNMATCHED


def route_for_execution(request: ExecutionRequest) -> str:
    """Execution logs print the *requested* path ("Resource Path: /pets/42"): keep it only as a template.

    Segments that look like values (digits, ids, tokens, coordinates) become `{id}` so the route is
    never the raw path; a template that is already there (`{petId}`) is kept as it is.
    """
    if request.http_method and request.resource_path:
        return f"{request.http_method} {template_path(request.resource_path)}"
    return ROUTE_UNMATCHED


def _looks_like_value(segment: str) -> bool:
    if not segment or segment.startswith("{"):
        return False
    if any(ch.isdigit() for ch in segment) or len(segment) >= 24:
        return True
    return any(ch in segment for ch in ",.=:;@+%~")


def template_path(path: str) -> str:
    """`/pets/42/photos` -> `/pets/{id}/photos`; bounded so a hostile path cannot blow up a report."""
    path = path.split("?", 1)[0][:512]
    return "/".join("{id}" if _looks_like_value(seg) else seg for seg in path.split("/"))


def latency_class(
    latency_ms: float | None, integration_latency_ms: float | None, settings: ApiSettings
) -> LatencyClass | None:
    """Against the API's integration timeout; based on integration latency when logged, else response latency."""
    basis = integration_latency_ms if integration_latency_ms is not None else latency_ms
    if basis is None:
        return None
    timeout = settings.integration_timeout_ms
    if basis >= timeout:
        return LatencyClass.TIMEOUT
    if basis >= timeout * settings.near_timeout_ratio:
        return LatencyClass.NEAR_TIMEOUT
    if basis > settings.slow_ms:
        return LatencyClass.SLOW
    return LatencyClass.OK


def gateway_overhead(record: AccessRecord | AccessSummary) -> float | None:
    """Response latency − integration latency (− authorizer latency when logged); None when unknown."""
    if record.response_latency_ms is None or record.integration_latency_ms is None:
        return None
    overhead = record.response_latency_ms - record.integration_latency_ms
    if record.authorizer_latency_ms is not None:
        overhead -= record.authorizer_latency_ms
    return max(overhead, 0.0)


def _evidence(text: str) -> str:
    return short_sample(text, EVIDENCE_CHARS)


def _decide_access(
    record: AccessRecord, settings: ApiSettings, lclass: LatencyClass | None
) -> tuple[ErrorCategory, str, int]:
    status = record.status
    # 4: a specific response type, or WAF.
    rt_category, generic = category_for_response_type(record.error_response_type)
    texts = (
        ("integration.error", record.integration_error),
        ("authorizer.error", record.authorizer_error),
        ("error.message", record.error_message),
    )
    if rt_category is not None and not generic:
        # "Task timed out" in the integration error means the function's own timeout came first.
        timed_out = record.integration_error and "task timed out" in record.integration_error.lower()
        if rt_category is C.INTEGRATION_TIMEOUT and timed_out:
            return C.LAMBDA_TIMEOUT, _evidence(f"integration.error={record.integration_error}"), RANK_TEXT
        return rt_category, _evidence(f"error.responseType={record.error_response_type}"), RANK_RESPONSE_TYPE
    if record.waf_response_code and record.waf_response_code.upper() == "WAF_BLOCK":
        return C.WAF_BLOCKED, "wafResponseCode=WAF_BLOCK", RANK_RESPONSE_TYPE
    # 3: free text (refines generic response types).
    for name, text in texts:
        cat = text_category(text)
        if cat is None:
            continue
        if name == "authorizer.error" and cat in (
            C.INTEGRATION_PERMISSION,
            C.MALFORMED_RESPONSE,
            C.CONFIGURATION_ERROR,
        ):
            cat = C.AUTHORIZER_ERROR
        if cat is C.OK:
            continue
        # A 4xx text on a 5xx (or vice versa) is not an explanation of this status.
        info = CATEGORY_TABLE[cat]
        if (
            status is not None
            and info.statuses
            and (status >= 500) != (info.statuses[0] >= 500)
            and cat not in (C.BACKEND_THROTTLED,)
        ):
            continue
        return cat, _evidence(f"{name}={text}"), RANK_TEXT
    # 2: what the integration itself answered (this also refines the generic response types).
    service = record.integration_service_status
    if service is not None and service >= 400:
        if service == 429:
            return C.BACKEND_THROTTLED, "integrationStatus=429 (the integration throttled)", RANK_INTEGRATION_STATUS
        if service == status:
            # For HTTP/VPC-link integrations $context.integrationStatus is the backend's own status.
            return (
                fallback_category(service),
                f"integrationStatus={service} (the backend's own answer)",
                RANK_INTEGRATION_STATUS,
            )
        if not generic or rt_category is C.BAD_GATEWAY:
            return (
                _lambda_invocation_status_category(service),
                f"integrationStatus={service} (Lambda service status)",
                RANK_INTEGRATION_STATUS,
            )
    if generic and rt_category is not None:
        return rt_category, _evidence(f"error.responseType={record.error_response_type}"), RANK_RESPONSE_TYPE - 1
    istatus = record.integration_status
    if istatus is not None and istatus >= 400:
        if istatus == 429:
            return C.BACKEND_THROTTLED, "integration.status=429 (the backend throttled)", RANK_INTEGRATION_STATUS
        if status is None or status == istatus:
            return (
                fallback_category(istatus),
                f"integration.status={istatus} (the backend's own answer)",
                RANK_INTEGRATION_STATUS,
            )
    if status == 504 and lclass is LatencyClass.TIMEOUT:
        basis = (
            record.integration_latency_ms if record.integration_latency_ms is not None else record.response_latency_ms
        )
        return (
            C.INTEGRATION_TIMEOUT,
            f"integration latency {basis:.0f} ms reached the {settings.integration_timeout_ms} ms timeout",
            RANK_INTEGRATION_STATUS,
        )
    # 1: the status alone.
    cat = fallback_category(status) if status is not None else C.SERVER_ERROR_OTHER
    if rt_category is None and record.error_response_type:
        return cat, _evidence(f"status={status}; unknown error.responseType={record.error_response_type}"), RANK_STATUS
    return cat, f"status={status} (status only)", RANK_STATUS


_OK_EVIDENCE: dict[int, str] = {}
_LC_OK, _LC_SLOW, _LC_NEAR, _LC_TIMEOUT = (
    LatencyClass.OK,
    LatencyClass.SLOW,
    LatencyClass.NEAR_TIMEOUT,
    LatencyClass.TIMEOUT,
)


def classify_access(
    record: AccessRecord, settings: ApiSettings, api_name: str | None = None, log_group: str | None = None
) -> ClassifiedRequest:
    """Classify one access-log entry.

    This runs once per access-log event in the Lambda, so the common case (a 2xx/3xx) is written
    out inline — no helper calls, positional construction — and the rules live in `_decide_access`.
    """
    status = record.status
    latency = record.response_latency_ms
    integration = record.integration_latency_ms
    basis = integration if integration is not None else latency
    if basis is None:
        lclass = None
    else:
        timeout = settings.integration_timeout_ms
        if basis >= timeout:
            lclass = _LC_TIMEOUT
        elif basis >= timeout * settings.near_timeout_ratio:
            lclass = _LC_NEAR
        elif basis > settings.slow_ms:
            lclass = _LC_SLOW
        else:
            lclass = _LC_OK
    if latency is not None and integration is not None:
        overhead = latency - integration
        if record.authorizer_latency_ms is not None:
            overhead -= record.authorizer_latency_ms
        if overhead < 0.0:
            overhead = 0.0
    else:
        overhead = None
    route_key = record.route_key
    if route_key and " " in route_key:
        route = route_key
    elif not route_key and record.resource_path and record.http_method:
        route = f"{record.http_method} {record.resource_path}"
    else:
        route = route_for_access(record)
    if status is not None and status < 400:
        evidence = _OK_EVIDENCE.get(status)
        if evidence is None:
            evidence = _OK_EVIDENCE.setdefault(status, f"status={status}")
        retry = blame = None
        category, rank = C.OK, RANK_OK
    else:
        if status is None and not (record.error_response_type or record.integration_error or record.error_message):
            category, evidence, rank = C.OK, "no status logged", RANK_OK
        else:
            category, evidence, rank = _decide_access(record, settings, lclass)
        info = CATEGORY_TABLE[category]
        retry, blame = info.retry, info.blame
    return ClassifiedRequest(
        record.request_id or record.extended_request_id,
        record.api_id,
        record.stage,
        route,
        status,
        category,
        retry,
        blame,
        latency,
        integration,
        lclass,
        evidence,
        overhead,
        record.timestamp if record.timestamp is not None else record.request_time_epoch_ms,
        "access",
        log_group,
        api_name,
        settings.integration_timeout_ms,
        rank,
    )


def tally_success(
    tallies: dict, summary: AccessSummary, api_id: str | None, stage: str | None, near_timeout_ms: float
) -> None:
    """Count one successful request in its route's tally — the analyzer's fast path (no per-request objects).

    Same route and latency rules as classify_access: the tally is keyed by the route's parts (the route
    text is made once per key, see route_tallies), the gateway overhead is response − integration −
    authorizer latency, and a near-timeout is an integration latency (else the response latency) at or
    above `near_timeout_ms` (90 % of the API's integration timeout). gatewatch.fastpath generates the
    same rules per key layout.
    """
    key = (api_id, stage, summary.http_method, summary.resource_path, summary.route_key)
    tally = tallies.get(key)
    if tally is None:
        tally = tallies[key] = RouteTally()
    tally.requests += 1
    latency, integration = summary.response_latency_ms, summary.integration_latency_ms
    basis = integration if integration is not None else latency
    if basis is not None and basis >= near_timeout_ms:
        tally.near_timeouts += 1
    latency_ok = latency is not None and 0 <= latency < _INF
    if latency_ok:
        tally.latency_ms.append(latency)
    if integration is not None and 0 <= integration < _INF:
        tally.integration_latency_ms.append(integration)
        if latency_ok:
            overhead = latency - integration
            if summary.authorizer_latency_ms is not None:
                overhead -= summary.authorizer_latency_ms
            tally.gateway_overhead_ms.append(overhead if overhead > 0 else 0.0)
    ts = summary.timestamp
    if ts is not None and (tally.latest_timestamp is None or ts > tally.latest_timestamp):
        tally.latest_timestamp = ts


_INF = float("inf")


def route_tallies(tallies: dict, name_for: Callable[[str | None], str | None]) -> dict:
    """(api_id, stage, method, resource path, route key) tallies -> per (api_id, stage, api_name, route)."""
    out: dict = {}
    for (api_id, stage, method, resource_path, route_key), tally in tallies.items():
        key = (api_id, stage, name_for(api_id), route_of(method, resource_path, route_key))
        out[key] = out[key].merge(tally) if key in out else tally
    return out


def classify_execution(
    request: ExecutionRequest, settings: ApiSettings, *, api_name: str | None = None
) -> ClassifiedRequest:
    """Classify one execution-log request (its cause line decides; the completion status otherwise)."""
    status = request.status
    lclass = latency_class(None, request.integration_latency_ms, settings)
    if status is not None and status < 400:
        category, evidence, rank = C.OK, f"Method completed with status: {status}", RANK_OK
    else:
        cause = execution_cause(request.lines, status)
        backend_status = _received_status(request.lines) if cause is None else None
        if cause is not None:
            category, line = cause
            evidence, rank = _evidence(line), RANK_EXECUTION
        elif backend_status is not None and backend_status == status:
            category = C.BACKEND_THROTTLED if status == 429 else fallback_category(status)
            evidence, rank = f"Received response. Status: {status} (the backend's own answer)", RANK_INTEGRATION_STATUS
        elif status is not None:
            category, evidence, rank = (
                fallback_category(status),
                f"Method completed with status: {status} (no cause line)",
                RANK_STATUS,
            )
        else:
            category, evidence, rank = C.OK, "no outcome logged", RANK_OK
    info = CATEGORY_TABLE[category]
    return ClassifiedRequest(
        request_id=request.request_id,
        api_id=request.api_id,
        stage=request.stage,
        route=route_for_execution(request),
        status=status,
        category=category,
        retry=info.retry,
        blame=info.blame,
        latency_ms=None,
        integration_latency_ms=request.integration_latency_ms,
        latency_class=lclass,
        evidence=evidence,
        gateway_overhead_ms=None,
        timestamp=request.first_timestamp,
        source="execution",
        log_group=request.log_group,
        api_name=api_name,
        integration_timeout_ms=settings.integration_timeout_ms,
        evidence_rank=rank,
    )


def merge_classified(access: ClassifiedRequest, execution: ClassifiedRequest) -> ClassifiedRequest:
    """One answer for a request seen in both logs: the stronger evidence decides, access supplies latencies."""
    winner = execution if execution.evidence_rank > access.evidence_rank else access
    return replace(
        access,
        api_id=access.api_id or execution.api_id,
        stage=access.stage or execution.stage,
        route=access.route if access.route != ROUTE_UNMATCHED else execution.route,
        status=access.status if access.status is not None else execution.status,
        category=winner.category,
        retry=winner.retry,
        blame=winner.blame,
        evidence=winner.evidence,
        integration_latency_ms=access.integration_latency_ms
        if access.integration_latency_ms is not None
        else execution.integration_latency_ms,
        source="access+execution",
        evidence_rank=winner.evidence_rank,
    )
