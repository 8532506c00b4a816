"""The evidence rules: what a response type, an error text or an execution-log line says about the cause.

Each rule maps evidence to an `ErrorCategory` of the taxonomy; `classifier` decides which evidence
wins (its precedence is in its docstring). Text rules are checked in order on lower-cased text, so a
more specific phrase comes before a general one.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from gatewatch.classify.taxonomy import ErrorCategory

C = ErrorCategory

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

#: A Lambda 403 that says the request was never an invoke: the integration is set up wrong.
_SETUP_NOT_PERMISSION = ("unable to determine service/operation", "could not determine service/operation")

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
    # mutual TLS refusing the client's certificate: the client's problem, although it says "certificate"
    (("access denied. reason:",), C.ACCESS_DENIED),
    (("the client is not authorized to perform this operation",), C.ACCESS_DENIED),
    # Lambda's 403 "Unable to determine service/operation name to be authorized" is an integration set up
    # wrong (not POST, or a wrong URI), not a missing permission: before the permission rule.
    (_SETUP_NOT_PERMISSION, C.CONFIGURATION_ERROR),
    # a role API Gateway cannot use is a permission problem, the authorizer's role too (DESIGN: "cannot
    # assume the integration/authorizer role"); an authorizer's own error line still wins in execution logs
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
    (("authorizer", "could not parse policy", "isauthorized", "invalid json in response"), C.AUTHORIZER_ERROR),
    (("does not match the certificate", "certificate", "ssl", "tls handshake", "pkix", "handshake"), C.TLS_ERROR),
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
    "Access denied. Reason:",
    "The client is not authorized",
    "The IAM role configured on",
    "The response from the Lambda Authorizer",
    "Invalid JSON in response",
)
_EXEC_CAUSE_CONTAINS: tuple[tuple[str, ErrorCategory], ...] = (
    ("throttle limit exceeded", C.THROTTLED),
    ("exceeded throttle limit", C.THROTTLED),
    ("quota exhausted", C.QUOTA_EXCEEDED),
    ("exceeded quota limit", C.QUOTA_EXCEEDED),
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


def lambda_invocation_status_category(status: int) -> ErrorCategory:
    if status == 429:
        return C.BACKEND_THROTTLED
    if status in (401, 403):
        return C.INTEGRATION_PERMISSION
    if status in (400, 404, 413):
        return C.CONFIGURATION_ERROR
    return C.BAD_GATEWAY


class _Evidence:
    """What a request's execution-log lines say, collected line by line (see `execution_cause`)."""

    __slots__ = ("authorizer_seen", "found", "function_error_header", "setup_body", "throttled_body")

    def __init__(self) -> None:
        self.found: list[tuple[ErrorCategory, str]] = []
        self.authorizer_seen = False
        self.throttled_body: str | None = None  # a Lambda limit error passed through as the body
        self.setup_body: str | None = None  # Lambda's "cannot determine the service/operation" 403 body
        self.function_error_header: str | None = None  # X-Amz-Function-Error: the function failed

    def add(self, category: ErrorCategory, line: str) -> None:
        if category is C.AUTHORIZER_ERROR:
            self.authorizer_seen = True
        self.found.append((category, line))

    def read(self, line: str) -> None:
        if line.startswith(_BODY_LINE):
            self._body(line)
        elif line.startswith(_RESPONSE_HEADERS):
            if "X-Amz-Function-Error=" in line:
                self.function_error_header = line
        elif line.startswith(_EXEC_CAUSE_STARTS):
            category = _cause_line_category(line)
            if category is not None:
                self.add(category, line)
        else:
            category = next((cat for needle, cat in _EXEC_CAUSE_CONTAINS if needle in line), None)
            if category is not None:
                self.add(category, line)

    def _body(self, line: str) -> None:
        low = line.lower()
        if any(phrase in low for phrase in _SETUP_NOT_PERMISSION):
            self.setup_body = line
        if any(phrase in low for phrase in _THROTTLED_BODY):
            self.throttled_body = line

    def first(self, category: ErrorCategory) -> tuple[ErrorCategory, str] | None:
        return next((f for f in self.found if f[0] is category), None)

    def cause(self, status: int | None) -> tuple[ErrorCategory, str] | None:
        """The line that explains the failure, when lines disagree (the precedence is the docstring's)."""
        if not self.found:
            if self.function_error_header is not None and (status is None or status >= 500):
                # A "Handled" function error mapped to a 4xx by an integration response is the API's design.
                return C.LAMBDA_ERROR, self.function_error_header
            return None
        # A Lambda 429 passed through as the body makes API Gateway say "Malformed Lambda proxy
        # response": the real cause is the limit (corpus S05).
        if self.throttled_body is not None and self.first(C.MALFORMED_RESPONSE):
            return C.BACKEND_THROTTLED, self.throttled_body
        # Lambda answered 403 because the request was no invoke at all: set-up, not permission.
        if self.setup_body is not None and self.first(C.INTEGRATION_PERMISSION):
            return C.CONFIGURATION_ERROR, self.setup_body
        # The authorizer's own permission/config problem is an authorizer error (corpus S07, S08).
        for category in (C.BACKEND_THROTTLED, C.AUTHORIZER_ERROR if self.authorizer_seen else None, C.LAMBDA_TIMEOUT):
            if category is not None and (chosen := self.first(category)) is not None:
                return chosen
        return self.found[0]


_THROTTLED_BODY = ("rate exceeded", "toomanyrequestsexception", "concurrentinvocationlimitexceeded")
_GATEWAY_RESPONSE = "Gateway response type:"
_LAMBDA_INVOCATION = "Lambda invocation failed with status:"


def _cause_line_category(line: str) -> ErrorCategory | None:
    """The category a line that starts like a cause states (None: it states none after all)."""
    if line.startswith(_GATEWAY_RESPONSE):
        category, generic = category_for_response_type(line[len(_GATEWAY_RESPONSE) :].strip().split(" ", 1)[0])
        return None if generic else category
    if line.startswith(_LAMBDA_INVOCATION):
        digits = line[len(_LAMBDA_INVOCATION) :].strip()[:3]
        if digits.isdigit():
            return lambda_invocation_status_category(int(digits))
    if line.startswith(("AuthorizerConfigurationException", "Authorizer error")):
        return C.AUTHORIZER_ERROR
    if line.startswith("Unauthorized request"):
        return C.UNAUTHORIZED
    category = text_category(line)
    if category is None and line.startswith("Execution failed due to"):
        return C.INTERNAL_ERROR if "internal error" in line else C.CONFIGURATION_ERROR
    return category


def execution_cause(lines: Iterable[str], status: int | None = None) -> tuple[ErrorCategory, str] | None:
    """Scan a request's execution-log lines for the line that explains the failure.

    Precedence when lines disagree: a throttled body behind "Malformed Lambda proxy response" is the
    limit; Lambda's set-up 403 body is a configuration error; then a backend limit, an authorizer's own
    error, a Lambda timeout; else the first cause line."""
    evidence = _Evidence()
    for line in lines:
        evidence.read(line)
    return evidence.cause(status)


_RECEIVED = "Received response. Status: "


def received_status(lines: Iterable[str]) -> int | None:
    """The HTTP integration's own status from "Received response. Status: N, Integration latency: ..."."""
    for line in lines:
        if line.startswith(_RECEIVED):
            digits = line[len(_RECEIVED) : len(_RECEIVED) + 3]
            return int(digits) if digits.isdigit() else None
    return None
