"""The error taxonomy: one table that the classifier, metrics, alerts, Slack, CLI and docs all read.

Why one table: the category names are a public contract (metrics, alerts, `gatewatch classify`
output), and every consumer must agree on what a category means, whether a retry helps and how to
fix it. Change a fix text here and the README, the Slack alerts and the report follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCategory(StrEnum):
    """Why a request failed. `OK` for 2xx/3xx. Names are the public contract (DESIGN §4)."""

    OK = "OK"
    BAD_REQUEST_BODY = "BAD_REQUEST_BODY"
    BAD_REQUEST_PARAMETERS = "BAD_REQUEST_PARAMETERS"
    BAD_REQUEST = "BAD_REQUEST"
    UNAUTHORIZED = "UNAUTHORIZED"
    ACCESS_DENIED = "ACCESS_DENIED"
    INVALID_API_KEY = "INVALID_API_KEY"
    WAF_BLOCKED = "WAF_BLOCKED"
    MISSING_AUTH_TOKEN = "MISSING_AUTH_TOKEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    THROTTLED = "THROTTLED"
    CLIENT_ERROR_OTHER = "CLIENT_ERROR_OTHER"
    BACKEND_THROTTLED = "BACKEND_THROTTLED"
    INTEGRATION_PERMISSION = "INTEGRATION_PERMISSION"
    AUTHORIZER_ERROR = "AUTHORIZER_ERROR"
    CONFIGURATION_ERROR = "CONFIGURATION_ERROR"
    MALFORMED_RESPONSE = "MALFORMED_RESPONSE"
    LAMBDA_TIMEOUT = "LAMBDA_TIMEOUT"
    LAMBDA_ERROR = "LAMBDA_ERROR"
    BAD_GATEWAY = "BAD_GATEWAY"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTEGRATION_TIMEOUT = "INTEGRATION_TIMEOUT"
    NETWORK_ERROR = "NETWORK_ERROR"
    TLS_ERROR = "TLS_ERROR"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVER_ERROR_OTHER = "SERVER_ERROR_OTHER"

    def __str__(self) -> str:  # so f-strings and JSON show the bare name
        return self.value


class Retry(StrEnum):
    """Whether the caller should retry: never, at once, with exponential backoff, or after a reset."""

    NO = "no"
    YES = "yes"
    BACKOFF = "backoff"
    LATER = "later"


class Blame(StrEnum):
    """Who has to act: the caller, the API's configuration, the backend code, capacity, or the edge (WAF)."""

    CLIENT = "client"
    CONFIG = "config"
    BACKEND = "backend"
    CAPACITY = "capacity"
    EDGE = "edge"


class Family(StrEnum):
    """Coarse grouping used for alert routing, dashboards and Slack colour."""

    CLIENT = "client"
    CAPACITY = "capacity"
    CONFIG = "config"
    BACKEND = "backend"
    OK = "ok"


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    """Everything a person needs to know about one category."""

    category: ErrorCategory
    statuses: tuple[int, ...]  # typical client-visible status codes; () means "any 4xx/5xx"
    retry: Retry | None
    blame: Blame | None
    title: str  # a short human name
    meaning: str  # what happened, one or two sentences
    fix: str  # what to do about it, one paragraph
    evidence: str  # what in the logs points here (for docs)

    @property
    def family(self) -> Family:
        if self.category is ErrorCategory.OK:
            return Family.OK
        if self.blame is None:
            raise ValueError(f"category {self.category.value} has no blame, so no family")
        if self.blame in (Blame.CLIENT, Blame.EDGE):
            return Family.CLIENT
        return Family(self.blame.value)

    @property
    def status_label(self) -> str:
        return "/".join(str(s) for s in self.statuses) if self.statuses else ("4xx" if self.is_client_error else "5xx")

    @property
    def is_client_error(self) -> bool:
        """True for 4xx categories (used for the 4xx/5xx split when only a category is known)."""
        if not self.statuses:
            return self.category is ErrorCategory.CLIENT_ERROR_OTHER
        return 400 <= self.statuses[0] < 500


_C = ErrorCategory
_R = Retry
_B = Blame

CATEGORY_TABLE: dict[ErrorCategory, CategoryInfo] = {
    info.category: info
    for info in (
        CategoryInfo(
            _C.OK,
            (200,),
            None,
            None,
            "Success",
            "The request succeeded (2xx or 3xx).",
            "Nothing to fix.",
            "status 2xx/3xx",
        ),
        CategoryInfo(
            _C.BAD_REQUEST_BODY,
            (400,),
            _R.NO,
            _B.CLIENT,
            "Request body rejected",
            "API Gateway's request validator rejected the body: it does not match the method's model.",
            "Fix the caller's payload to match the model (see $context.error.validationErrorString for the "
            "failing property), or relax the model if the API contract changed. Retrying the same body fails again.",
            'BAD_REQUEST_BODY; "Invalid request body"; body fails the model',
        ),
        CategoryInfo(
            _C.BAD_REQUEST_PARAMETERS,
            (400,),
            _R.NO,
            _B.CLIENT,
            "Request parameters rejected",
            "A required query string, header or path parameter is missing or invalid for the request validator.",
            "Send the required parameters (the message names them), or mark them optional on the method. "
            "Retrying without them fails again.",
            'BAD_REQUEST_PARAMETERS; "Missing required request parameters"',
        ),
        CategoryInfo(
            _C.BAD_REQUEST,
            (400,),
            _R.NO,
            _B.CLIENT,
            "Bad request",
            "The request was malformed: a DEFAULT_4XX from API Gateway or a 400 from the backend (invalid JSON, "
            "wrong types, bad characters, a malformed Authorization header).",
            "Read the error message returned to the caller and correct the request. If many callers hit this after "
            "a deploy, the backend's input validation or the API contract changed.",
            "other 400 (DEFAULT_4XX, backend 400)",
        ),
        CategoryInfo(
            _C.UNAUTHORIZED,
            (401,),
            _R.NO,
            _B.CLIENT,
            "Unauthorized",
            "A Lambda or Cognito authorizer rejected the caller's token (missing, expired or invalid).",
            "The caller must obtain a fresh, valid token. If valid tokens are rejected, check the authorizer's "
            "identity source (header name), token validation (issuer, audience) and its cached policy TTL.",
            'UNAUTHORIZED; "Unauthorized request:"',
        ),
        CategoryInfo(
            _C.ACCESS_DENIED,
            (403,),
            _R.NO,
            _B.CLIENT,
            "Access denied",
            "The caller is authenticated but not allowed: an authorizer or IAM policy denied the call, or the "
            "signature or security token is invalid or expired.",
            "Check the caller's IAM permissions (execute-api:Invoke on this route) or the authorizer's returned "
            "policy (a cached policy covering only one resource is a common cause). For SigV4 errors, check clock "
            "skew and the signing region/service.",
            "ACCESS_DENIED, INVALID_SIGNATURE, EXPIRED_TOKEN; authorizer/IAM/Cognito deny",
        ),
        CategoryInfo(
            _C.INVALID_API_KEY,
            (403,),
            _R.NO,
            _B.CLIENT,
            "Invalid API key",
            "The method requires an API key and the key is missing, unknown, disabled, or not in a usage plan "
            "that covers this stage.",
            "Send a valid x-api-key header. If the key is valid, add the key to a usage plan associated with this "
            'API stage ("API Stage is not in a Usage Plan").',
            'INVALID_API_KEY; "API Key ... not authorized because ..."',
        ),
        CategoryInfo(
            _C.WAF_BLOCKED,
            (403,),
            _R.NO,
            _B.EDGE,
            "Blocked by WAF",
            "AWS WAF's web ACL blocked the request before it reached the API.",
            "If the traffic is legitimate, find the matching rule in the web ACL's sampled requests and add a "
            "scope-down or exception; otherwise nothing to do — WAF is working.",
            "WAF_FILTERED; wafResponseCode WAF_BLOCK",
        ),
        CategoryInfo(
            _C.MISSING_AUTH_TOKEN,
            (403,),
            _R.NO,
            _B.CLIENT,
            "Wrong URL or method (Missing Authentication Token)",
            "On a REST API this almost always means the path or method does not exist on the stage: API Gateway "
            'answers an unknown route with 403 "Missing Authentication Token", not 404.',
            "Check the URL (stage name in the path, trailing slash, case) and the HTTP method against the deployed "
            "resources; redeploy the stage if a new resource is missing. Only IAM-authorised routes really need a "
            "signature here.",
            "MISSING_AUTHENTICATION_TOKEN",
        ),
        CategoryInfo(
            _C.NOT_FOUND,
            (404,),
            _R.NO,
            _B.CLIENT,
            "Not found",
            "The resource does not exist: RESOURCE_NOT_FOUND from API Gateway, or the backend's own 404.",
            "Check the identifier the caller sent. A retry only helps in one case: a read racing an eventually "
            "consistent write — then retry once after a short delay.",
            "RESOURCE_NOT_FOUND, backend 404",
        ),
        CategoryInfo(
            _C.CONFLICT,
            (409,),
            _R.NO,
            _B.CLIENT,
            "Conflict",
            "The backend refused the write: the resource already exists or an idempotency key was replayed with "
            "a different payload.",
            "Treat as success if the earlier write was the caller's own (idempotent retry), otherwise use a new "
            "idempotency key or resolve the conflicting state.",
            "backend 409",
        ),
        CategoryInfo(
            _C.PAYLOAD_TOO_LARGE,
            (413,),
            _R.NO,
            _B.CLIENT,
            "Payload too large",
            "The request exceeds API Gateway's payload limit (10 MB for REST and HTTP APIs).",
            "Upload large objects directly to S3 with a presigned URL and send the key instead of the body.",
            "REQUEST_TOO_LARGE",
        ),
        CategoryInfo(
            _C.UNSUPPORTED_MEDIA_TYPE,
            (415,),
            _R.NO,
            _B.CLIENT,
            "Unsupported media type",
            "The Content-Type has no mapping template and the integration's passthrough behaviour is NEVER.",
            "Send a Content-Type the method maps (usually application/json), or add a mapping template / set "
            "passthrough to WHEN_NO_TEMPLATES.",
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        CategoryInfo(
            _C.QUOTA_EXCEEDED,
            (429,),
            _R.LATER,
            _B.CAPACITY,
            "Usage-plan quota exceeded",
            "The API key used up its usage-plan quota for the period (day, week or month). Unlike throttling, "
            "waiting seconds does not help.",
            "Retry only after the quota period resets, or raise the key's quota / move it to a larger usage plan. "
            "Alert the key's owner: every call fails until the reset.",
            'QUOTA_EXCEEDED; "Limit Exceeded"',
        ),
        CategoryInfo(
            _C.THROTTLED,
            (429,),
            _R.BACKOFF,
            _B.CAPACITY,
            "Throttled by API Gateway",
            "A rate limit was exceeded: usage-plan/key, method, stage or the account-level limit "
            "(10,000 rps per Region by default).",
            "Callers should retry with exponential backoff and jitter. If the traffic is expected, raise the "
            "stage/method throttle or the usage plan's rate and burst, or request an account quota increase.",
            'THROTTLED; "Too Many Requests"; "Key/Method/Stage throttle limit exceeded"',
        ),
        CategoryInfo(
            _C.CLIENT_ERROR_OTHER,
            (),
            _R.NO,
            _B.CLIENT,
            "Other client error",
            "A 4xx the taxonomy has no specific category for.",
            "Inspect the returned message; add $context.error.responseType and $context.error.message to the "
            "access-log format so gatewatch can tell more.",
            "any other 4xx",
        ),
        CategoryInfo(
            _C.BACKEND_THROTTLED,
            (500, 502, 429),
            _R.BACKOFF,
            _B.CAPACITY,
            "Backend throttled (limit wearing a 5xx)",
            'The integration hit a limit — Lambda concurrency ("Lambda invocation failed with status: 429", '
            '"Rate Exceeded"), DynamoDB provisioned throughput, an AWS service\'s TooManyRequests — and API '
            "Gateway reported it as a 500/502.",
            "Retry with backoff. Raise the function's reserved/provisioned concurrency or the account's concurrency "
            "quota (or the table's capacity), and map the error to a 429 so clients know to back off.",
            '"Lambda invocation failed with status: 429", "Rate Exceeded", TooManyRequestsException',
        ),
        CategoryInfo(
            _C.INTEGRATION_PERMISSION,
            (500,),
            _R.NO,
            _B.CONFIG,
            "Integration permission missing",
            "API Gateway may not invoke the integration: the Lambda function's resource policy lacks "
            "lambda:InvokeFunction for this API, or the integration role cannot be assumed.",
            "Add a Lambda permission for principal apigateway.amazonaws.com with a SourceArn covering this "
            "API/stage/method (or fix the integration role's trust policy), then redeploy. A broken deploy: every "
            "call fails until it is fixed.",
            '"Invalid permissions on Lambda function", "does not have permission to assume the provided role"',
        ),
        CategoryInfo(
            _C.AUTHORIZER_ERROR,
            (500,),
            _R.NO,
            _B.CONFIG,
            "Authorizer failure",
            "The Lambda/Cognito authorizer could not be run or returned something API Gateway cannot use "
            "(no policy, invalid policy, missing isAuthorized, no permission to invoke it).",
            "Check the authorizer function's logs and its response shape (a policy document for REST, "
            "{isAuthorized: bool} for HTTP API simple responses) and that API Gateway may invoke it.",
            'AUTHORIZER_FAILURE, AUTHORIZER_CONFIGURATION_ERROR, "Authorizer error", "Could not parse policy"',
        ),
        CategoryInfo(
            _C.CONFIGURATION_ERROR,
            (500,),
            _R.NO,
            _B.CONFIG,
            "API configuration error",
            "The API's own configuration is broken: a mapping template fails, an integration response refers to "
            "a method response that does not exist, an invalid endpoint address, a base64 conversion failure.",
            'Read the "Execution failed due to configuration error:" text in the execution log, fix the '
            "integration/method response or template, and redeploy the stage. A retry fails the same way.",
            'API_CONFIGURATION_ERROR; other "Execution failed due to configuration error: ..."',
        ),
        CategoryInfo(
            _C.MALFORMED_RESPONSE,
            (502,),
            _R.NO,
            _B.BACKEND,
            "Malformed Lambda proxy response",
            "The Lambda function returned something that is not a proxy response ({statusCode, headers, body} with "
            "body a string).",
            "Return statusCode as a number and body as a string (JSON.stringify / json.dumps it) from every code "
            "path, including error handlers. Usually a just-deployed bug.",
            '"Malformed Lambda proxy response"',
        ),
        CategoryInfo(
            _C.LAMBDA_TIMEOUT,
            (502, 504),
            _R.YES,
            _B.BACKEND,
            "Lambda function timed out",
            'The function hit its own timeout ("Task timed out after N seconds") before API Gateway\'s '
            "integration timeout.",
            "Find what is slow (cold starts, a downstream call without a timeout) and fix it, or raise the "
            "function's timeout — keeping it below the integration timeout (29 s by default). Retries help only "
            "if the slowness was transient.",
            'function error "Task timed out after N seconds"',
        ),
        CategoryInfo(
            _C.LAMBDA_ERROR,
            (502, 500),
            _R.NO,
            _B.BACKEND,
            "Lambda function error",
            'The function threw an unhandled error (X-Amz-Function-Error, "Lambda execution failed ... due to '
            'customer function error").',
            "Open the function's logs for the Lambda request id and fix the exception; catch errors and return a "
            "proper 4xx/5xx proxy response instead of throwing.",
            '"customer function error", "Lambda Customer Function Error", X-Amz-Function-Error',
        ),
        CategoryInfo(
            _C.BAD_GATEWAY,
            (502,),
            _R.YES,
            _B.BACKEND,
            "Bad gateway",
            "The integration failed without a more specific cause: the backend (EC2/ECS/EKS/HTTP) is not running, "
            "refused the connection or returned garbage.",
            "Check the backend's health and target group; add $context.integration.error (or "
            "integrationErrorMessage) to the access-log format and enable execution logs to see the cause.",
            "INTEGRATION_FAILURE without a more specific cause",
        ),
        CategoryInfo(
            _C.SERVICE_UNAVAILABLE,
            (503,),
            _R.YES,
            _B.BACKEND,
            "Service unavailable",
            "The backend answered 503: overloaded, deploying, or in maintenance.",
            "Retry with backoff; check the backend's capacity and deployment status (health checks, scaling).",
            "backend 503",
        ),
        CategoryInfo(
            _C.INTEGRATION_TIMEOUT,
            (504,),
            _R.YES,
            _B.BACKEND,
            "Integration timeout",
            "The backend did not answer within API Gateway's integration timeout (29 s by default): \"Endpoint "
            'request timed out".',
            "Make the backend answer faster (or go asynchronous: accept, return 202, and poll), set the "
            "function's timeout below the integration timeout, or raise the integration timeout on Regional REST "
            "APIs. Retries help only for transient slowness.",
            'INTEGRATION_TIMEOUT; "Execution failed due to a timeout error"; "Endpoint request timed out"',
        ),
        CategoryInfo(
            _C.NETWORK_ERROR,
            (504, 500),
            _R.YES,
            _B.BACKEND,
            "Network error to the backend",
            "API Gateway could not reach the backend: DNS failure, connection refused/reset, or a VPC link target "
            "that is unreachable.",
            "Check the endpoint's DNS, security groups, NLB target health and the VPC link status. Retries help "
            "for transient network faults.",
            '"Network error communicating with endpoint", DNS failure, connection reset',
        ),
        CategoryInfo(
            _C.TLS_ERROR,
            (500, 502),
            _R.NO,
            _B.CONFIG,
            "TLS error to the backend",
            "The TLS handshake with the backend failed: the host name does not match the certificate, or the "
            'certificate is untrusted or expired. API Gateway calls it a "configuration error", and a retry fails '
            "the same way.",
            "Use the host name the certificate was issued for (set the integration's tlsConfig serverNameToVerify "
            "for VPC links), install a certificate from a trusted CA, or renew the expired one.",
            'TLS handshake failure, "does not match the certificate subject", untrusted/expired certificate',
        ),
        CategoryInfo(
            _C.INTERNAL_ERROR,
            (500,),
            _R.NO,
            _B.BACKEND,
            "Internal server error",
            "A 500 from the backend, or an unexplained 500.",
            "Look up the request id in the backend's logs. Enable execution logs and add $context.error.message "
            "and $context.integration.error to the access-log format so gatewatch can say more.",
            "backend 500 or an unexplained 500",
        ),
        CategoryInfo(
            _C.SERVER_ERROR_OTHER,
            (),
            _R.NO,
            _B.BACKEND,
            "Other server error",
            "A 5xx the taxonomy has no specific category for.",
            "Inspect the backend's logs for the request id.",
            "any other 5xx",
        ),
    )
}

#: What a bare status code means when the logs carry nothing else (DESIGN §4 fallback).
STATUS_FALLBACK: dict[int, ErrorCategory] = {
    400: _C.BAD_REQUEST,
    401: _C.UNAUTHORIZED,
    403: _C.ACCESS_DENIED,
    404: _C.NOT_FOUND,
    409: _C.CONFLICT,
    413: _C.PAYLOAD_TOO_LARGE,
    415: _C.UNSUPPORTED_MEDIA_TYPE,
    429: _C.THROTTLED,
    500: _C.INTERNAL_ERROR,
    502: _C.BAD_GATEWAY,
    503: _C.SERVICE_UNAVAILABLE,
    504: _C.INTEGRATION_TIMEOUT,
}

#: Categories that mean "a deploy is broken" and alert at once from the analyzer (DESIGN §6).
BROKEN_DEPLOY_CATEGORIES: frozenset[ErrorCategory] = frozenset(
    {_C.INTEGRATION_PERMISSION, _C.CONFIGURATION_ERROR, _C.AUTHORIZER_ERROR, _C.MALFORMED_RESPONSE}
)


def category_info(category: ErrorCategory | str) -> CategoryInfo:
    """Look a category up by enum or name; unknown names raise KeyError (they are a contract violation)."""
    return CATEGORY_TABLE[ErrorCategory(category)]


def fallback_category(status: int) -> ErrorCategory:
    """The category a bare status code implies (DESIGN §4 status-only fallback)."""
    if status < 400:
        return _C.OK
    known = STATUS_FALLBACK.get(status)
    if known is not None:
        return known
    return _C.CLIENT_ERROR_OTHER if status < 500 else _C.SERVER_ERROR_OTHER
