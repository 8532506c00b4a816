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

from dataclasses import replace

from gatewatch.classify.latency import gateway_overhead_ms, latency_basis, latency_class
from gatewatch.classify.routes import route_for_access, route_for_execution
from gatewatch.classify.rules import (
    category_for_response_type,
    execution_cause,
    lambda_invocation_status_category,
    received_status,
    text_category,
)
from gatewatch.classify.taxonomy import CATEGORY_TABLE, ErrorCategory, fallback_category
from gatewatch.config import ApiSettings
from gatewatch.constants import ROUTE_UNMATCHED
from gatewatch.models import AccessRecord, ClassifiedRequest, ExecutionRequest, LatencyClass
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


def _evidence(text: str) -> str:
    return short_sample(text, EVIDENCE_CHARS)


#: (category, evidence, rank) — what decided a request's category, and how specific that evidence is.
Decision = tuple[ErrorCategory, str, int]


def _decide_access(record: AccessRecord, settings: ApiSettings, lclass: LatencyClass | None) -> Decision:
    """The most specific evidence of an access-log entry decides (levels in the module docstring)."""
    rt_category, generic = category_for_response_type(record.error_response_type)
    return (
        (_by_response_type(record, rt_category) if not generic else None)
        or _by_waf(record)
        or _by_text(record)
        or _by_service_status(record, rt_category, generic)
        or (
            (rt_category, _evidence(f"error.responseType={record.error_response_type}"), RANK_RESPONSE_TYPE - 1)
            if generic and rt_category is not None
            else None
        )
        or _by_integration_status(record)
        or _by_timeout(record, settings, lclass)
        or _by_status(record, rt_category)
    )


def _by_response_type(record: AccessRecord, rt_category: ErrorCategory | None) -> Decision | None:
    """4: a specific `error.responseType`."""
    if rt_category is None:
        return None
    # "Task timed out" in the integration error means the function's own timeout came first.
    timed_out = record.integration_error and "task timed out" in record.integration_error.lower()
    if rt_category is C.INTEGRATION_TIMEOUT and timed_out:
        return C.LAMBDA_TIMEOUT, _evidence(f"integration.error={record.integration_error}"), RANK_TEXT
    return rt_category, _evidence(f"error.responseType={record.error_response_type}"), RANK_RESPONSE_TYPE


def _by_waf(record: AccessRecord) -> Decision | None:
    """4: a WAF block."""
    if record.waf_response_code and record.waf_response_code.upper() == "WAF_BLOCK":
        return C.WAF_BLOCKED, "wafResponseCode=WAF_BLOCK", RANK_RESPONSE_TYPE
    return None


def _by_text(record: AccessRecord) -> Decision | None:
    """3: free text (it also refines the generic response types)."""
    for name, text in (
        ("integration.error", record.integration_error),
        ("authorizer.error", record.authorizer_error),
        ("error.message", record.error_message),
    ):
        category = text_category(text)
        # An authorizer that answered wrongly is an authorizer error; a role API Gateway may not use to call
        # it stays a permission problem (DESIGN: "cannot assume the integration/authorizer role").
        if name == "authorizer.error" and category in (C.MALFORMED_RESPONSE, C.CONFIGURATION_ERROR):
            category = C.AUTHORIZER_ERROR
        if category is not None and category is not C.OK and _explains(category, record.status):
            return category, _evidence(f"{name}={text}"), RANK_TEXT
    return None


def _explains(category: ErrorCategory, status: int | None) -> bool:
    """A 4xx text on a 5xx (or the other way round) is not an explanation of that status; a backend
    limit is, whatever status API Gateway turned it into."""
    statuses = CATEGORY_TABLE[category].statuses
    if status is None or not statuses or category is C.BACKEND_THROTTLED:
        return True
    return (status >= 500) == (statuses[0] >= 500)


def _by_service_status(record: AccessRecord, rt_category: ErrorCategory | None, generic: bool) -> Decision | None:
    """2: what the Lambda service (or, for HTTP integrations, the backend) answered: integrationStatus."""
    service = record.integration_service_status
    if service is None or service < 400:
        return None
    if service == 429:
        return C.BACKEND_THROTTLED, "integrationStatus=429 (the integration throttled)", RANK_INTEGRATION_STATUS
    if service == record.status:
        # For HTTP/VPC-link integrations $context.integrationStatus is the backend's own status.
        return (
            fallback_category(service),
            f"integrationStatus={service} (the backend's own answer)",
            RANK_INTEGRATION_STATUS,
        )
    if not generic or rt_category is C.BAD_GATEWAY:
        return (
            lambda_invocation_status_category(service),
            f"integrationStatus={service} (Lambda service status)",
            RANK_INTEGRATION_STATUS,
        )
    return None


def _by_integration_status(record: AccessRecord) -> Decision | None:
    """2: what the function or backend returned: integration.status."""
    istatus = record.integration_status
    if istatus is None or istatus < 400:
        return None
    if istatus == 429:
        return C.BACKEND_THROTTLED, "integration.status=429 (the backend throttled)", RANK_INTEGRATION_STATUS
    if record.status is None or record.status == istatus:
        return (
            fallback_category(istatus),
            f"integration.status={istatus} (the backend's own answer)",
            RANK_INTEGRATION_STATUS,
        )
    return None


def _by_timeout(record: AccessRecord, settings: ApiSettings, lclass: LatencyClass | None) -> Decision | None:
    """2: a 504 whose integration latency reached the timeout."""
    if record.status != 504 or lclass is not LatencyClass.TIMEOUT:
        return None
    basis = latency_basis(record.response_latency_ms, record.integration_latency_ms)
    return (
        C.INTEGRATION_TIMEOUT,
        f"integration latency {basis:.0f} ms reached the {settings.integration_timeout_ms} ms timeout",
        RANK_INTEGRATION_STATUS,
    )


def _by_status(record: AccessRecord, rt_category: ErrorCategory | None) -> Decision:
    """1: the status alone."""
    status = record.status
    category = fallback_category(status) if status is not None else C.SERVER_ERROR_OTHER
    if rt_category is None and record.error_response_type:
        return (
            category,
            _evidence(f"status={status}; unknown error.responseType={record.error_response_type}"),
            RANK_STATUS,
        )
    return category, f"status={status} (status only)", RANK_STATUS


_OK_EVIDENCE: dict[int, str] = {}


def classify_latency(
    latency_ms: float | None, integration_latency_ms: float | None, settings: ApiSettings
) -> LatencyClass | None:
    """The latency class of a request against its API's integration timeout and slow threshold."""
    return latency_class(
        latency_basis(latency_ms, integration_latency_ms),
        timeout_ms=settings.integration_timeout_ms,
        near_timeout_ms=settings.near_timeout_ms,
        slow_ms=settings.slow_ms,
    )


def classify_access(
    record: AccessRecord, settings: ApiSettings, api_name: str | None = None, log_group: str | None = None
) -> ClassifiedRequest:
    """Classify one access-log entry.

    Successful requests take this path in the CLI; in the Lambda they are tallied (gatewatch.metrics.tally)
    and only failures come here. The cause is decided by `_decide_access`, the latency facts by
    gatewatch.classify.latency.
    """
    status = record.status
    latency = record.response_latency_ms
    integration = record.integration_latency_ms
    lclass = classify_latency(latency, integration, settings)
    overhead = gateway_overhead_ms(latency, integration, record.authorizer_latency_ms)
    route = route_for_access(record)
    if status is not None and status < 400:
        evidence = _OK_EVIDENCE.get(status)
        if evidence is None:
            evidence = _OK_EVIDENCE.setdefault(status, f"status={status}")
        retry = blame = None
        category, rank = C.OK, RANK_OK
    else:
        if status is None and not (
            record.error_response_type or record.integration_error or record.error_message or record.authorizer_error
        ):
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


def classify_execution(
    request: ExecutionRequest, settings: ApiSettings, *, api_name: str | None = None
) -> ClassifiedRequest:
    """Classify one execution-log request (its cause line decides; the completion status otherwise)."""
    status = request.status
    lclass = classify_latency(None, request.integration_latency_ms, settings)
    if status is not None and status < 400:
        category, evidence, rank = C.OK, f"Method completed with status: {status}", RANK_OK
    else:
        cause = execution_cause(request.lines, status)
        backend_status = received_status(request.lines) if cause is None else None
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
