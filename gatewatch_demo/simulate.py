"""A deterministic API Gateway traffic simulator: requests with a known cause, rendered as real log lines.

Why it exists: the samples a new user sees, the benchmark batches, the demo's hour of traffic and the
round-trip tests ("render a request of category X, does the engine say X?") all need log lines whose
true cause is known. Real logs never say what the truth was; this module does, because it starts
from the cause (`SimulatedRequest.category`) and only then renders what API Gateway would write.

Rules the renderers follow:
- Execution-log messages use only the message shapes recorded in
  `../shared/reference/apigw-log-formats.md` §3.3 and the corpus (same wording, same order). Where
  API Gateway's wording for a cause was never seen (request validation, quota, WAF, network errors),
  no cause line is invented: the request renders with its documented skeleton and its final
  `Method completed with status: N` only — `evidence_formats()` then says that format cannot carry
  the evidence.
- Access-log values are rendered as API Gateway renders `$context` variables: unset is `-`, nothing
  is escaped, numbers are quoted strings in the JSON formats (as in the console defaults).
- Everything is drawn from one seeded `random.Random`, so the same seed gives the same bytes.

Pure Python, no AWS call, no third-party import; fast enough to build megabyte batches in
milliseconds (no per-request regex, no `datetime` objects, no `json.dumps` on the access hot path).
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypedDict, Unpack

from gatewatch.classify.taxonomy import ErrorCategory, fallback_category
from gatewatch.constants import EXECUTION_LOG_GROUP_PREFIX

C = ErrorCategory

__all__ = [
    "ACCESS_JSON_STYLES",
    "DEFAULT_START_MS",
    "DEMO_EPISODES",
    "DEMO_LATENCY_DRIFTS",
    "DEMO_OUTAGES",
    "FORMATS",
    "Episode",
    "LatencyDrift",
    "Outage",
    "Route",
    "SimulatedRequest",
    "TrafficSimulator",
    "build_payloads",
    "demo_hour",
    "demo_routes",
    "evidence_formats",
    "example_request",
    "execution_events",
    "execution_log_group",
    "filter_log_events_output",
    "render_access",
    "render_access_clf",
    "render_access_csv",
    "render_access_json",
    "render_access_xml",
    "render_execution_lines",
    "subscription_event",
    "subscription_payload",
]

#: 2025-11-25T12:00:00Z — a fixed start so the default output never depends on the clock.
DEFAULT_START_MS = 1_764_072_000_000
DEFAULT_REGION = "eu-west-1"
DEFAULT_ACCOUNT = "111122223333"
LAMBDA_TIMEOUT_S = 10  # the simulated functions' own timeout (below the 29 s integration timeout)
INTEGRATION_TIMEOUT_MS = 29_000

REST = "REST"
HTTP = "HTTP"

#: Names of every rendering, used by `render_access` and `evidence_formats`.
ACCESS_JSON_STYLES = ("camel", "dotted", "snake")
FORMATS = ("json-camel", "json-dotted", "json-snake", "clf", "csv", "xml", "execution")


# ---------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """One API route and how its integration behaves when all is well."""

    method: str
    resource: str  # template, e.g. /orders/{orderId}
    integration: str  # "lambda" (proxy), "lambda-custom" (non-proxy, mapping templates), "http" (VPC link / HTTP)
    target: str  # function name, or backend host for "http"
    weight: float  # share of baseline traffic
    base_ms: float  # median integration latency
    api_key: bool = False  # usage plan / API key required (REST)
    authorizer: str | None = None  # authorizer id when a Lambda authorizer protects it
    resource_id: str = "a1b2c3"  # REST resource id (appears in throttle lines)
    ok_status: int = 200

    @property
    def key(self) -> str:
        return f"{self.method} {self.resource}"


@dataclass(frozen=True, slots=True)
class SimulatedRequest:
    """One request with its true cause and every value the renderers need.

    Latencies are whole milliseconds as API Gateway logs them; `None` means the variable is unset
    (rendered `-`). `resource` is None when no route matched (a wrong URL).
    """

    category: ErrorCategory
    api_kind: str  # REST | HTTP
    api_id: str
    stage: str
    method: str
    resource: str | None
    path: str
    status: int
    timestamp_ms: int
    request_id: str
    extended_request_id: str
    ip: str
    user_agent: str
    response_length: int
    response_latency_ms: int
    integration_latency_ms: int | None = None
    integration_status: int | None = None  # $context.integration.status — what the function/backend returned
    integration_service_status: int | None = None  # $context.integrationStatus — the Lambda service's status
    error_response_type: str | None = None
    error_message: str | None = None
    integration_error: str | None = None  # $context.integration.error / integrationErrorMessage
    authorizer_error: str | None = None
    waf_response_code: str | None = None
    integration: str = "lambda"
    integration_uri: str | None = None
    lambda_request_id: str | None = None
    resource_id: str = "a1b2c3"
    api_key_masked: str | None = None  # as API Gateway masks it: 34 '*' + last 6 characters
    authorizer_id: str | None = None
    cause_detail: str | None = None  # the category-specific tail of the execution-log cause line

    @property
    def route(self) -> str:
        """`METHOD /template`, or UNMATCHED — the value gatewatch reports (never the raw path)."""
        return f"{self.method} {self.resource}" if self.resource else "UNMATCHED"

    @property
    def route_key(self) -> str | None:
        """HTTP API `$context.routeKey` (contains the method); None when no route matched."""
        return f"{self.method} {self.resource}" if self.resource else None


@dataclass(frozen=True, slots=True)
class Episode:
    """An incident: `per_minute` extra requests of `category` on `route` (at 60 requests/min baseline).

    With `takeover`, baseline requests on the route during the window fail the same way (a broken
    deploy fails every call, not just some).
    """

    name: str
    category: ErrorCategory
    start_minute: int
    minutes: int
    per_minute: int
    route: str  # Route.key, or "" for requests that match no route
    takeover: bool = False
    description: str = ""

    @property
    def end_minute(self) -> int:
        return self.start_minute + self.minutes


@dataclass(frozen=True, slots=True)
class Outage:
    """Minutes in which no request reaches the stage: no access line, no execution line, no metric.

    The traffic is still drawn (and then dropped), so the requests of every other minute stay the
    same bytes with or without the outage."""

    name: str
    start_minute: int
    minutes: int
    description: str = ""

    @property
    def end_minute(self) -> int:
        return self.start_minute + self.minutes

    def covers(self, minute: int) -> bool:
        return self.start_minute <= minute < self.end_minute


@dataclass(frozen=True, slots=True)
class LatencyDrift:
    """A backend getting slower: integration latency on `route` ramps from its base to `to_ms`."""

    route: str
    start_minute: int
    minutes: int
    to_ms: float


# ---------------------------------------------------------------------------------------------------
# The demo API: routes and the hour's script
# ---------------------------------------------------------------------------------------------------

_AUTH = "k3w9zq"  # authorizer id


def demo_routes() -> tuple[Route, ...]:
    """The sample "shop" API: Lambda proxy routes, a partner route behind an API key, a VPC-link backend."""
    return (
        Route("GET", "/products", "lambda", "shop-list-products", 30, 38, resource_id="p4x0aa"),
        Route("GET", "/products/{productId}", "lambda", "shop-get-product", 24, 22, resource_id="p4x0ab"),
        Route("GET", "/search", "lambda", "shop-search", 8, 180, resource_id="s8r1ch"),
        Route(
            "POST",
            "/orders",
            "lambda",
            "shop-create-order",
            9,
            95,
            authorizer=_AUTH,
            resource_id="o7d3rs",
            ok_status=201,
        ),
        Route("GET", "/orders/{orderId}", "lambda", "shop-get-order", 10, 30, authorizer=_AUTH, resource_id="o7d3rt"),
        Route("POST", "/payments", "lambda", "shop-payments", 5, 320, authorizer=_AUTH, resource_id="p9y2mt"),
        Route("POST", "/v1/quotes", "lambda", "shop-partner-quotes", 6, 70, api_key=True, resource_id="q2u0ts"),
        Route("GET", "/inventory/{sku}", "http", "inventory.internal.example.com", 6, 55, resource_id="i5v3nt"),
        Route(
            "GET",
            "/reports/{reportId}",
            "lambda-custom",
            "shop-reports",
            2,
            140,
            authorizer=_AUTH,
            resource_id="r3p0rt",
        ),
    )


#: The hour's incidents, each at its own minutes: the local demo's alarms fire on the traffic they add.
DEMO_EPISODES: tuple[Episode, ...] = (
    Episode(
        "wrong-url-scan",
        C.MISSING_AUTH_TOKEN,
        4,
        3,
        30,
        "",
        description="a scanner probing paths that do not exist (403 Missing Authentication Token)",
    ),
    Episode(
        "rotated-partner-key",
        C.INVALID_API_KEY,
        8,
        2,
        6,
        "POST /v1/quotes",
        description="a partner calls with a key that is in no usage plan",
    ),
    Episode(
        "throttling-burst",
        C.THROTTLED,
        10,
        3,
        45,
        "POST /v1/quotes",
        description="a partner's batch job exceeds its usage-plan rate",
    ),
    Episode("waf-blocks", C.WAF_BLOCKED, 14, 2, 12, "GET /search", description="WAF blocks an injection attempt"),
    Episode(
        "bad-deploy",
        C.MALFORMED_RESPONSE,
        17,
        4,
        6,
        "POST /orders",
        takeover=True,
        description="a deploy of shop-create-order returns a non-proxy response",
    ),
    Episode(
        "permission-lost",
        C.INTEGRATION_PERMISSION,
        22,
        3,
        4,
        "GET /orders/{orderId}",
        takeover=True,
        description="a redeploy dropped the Lambda permission for API Gateway",
    ),
    Episode(
        "quota-hit",
        C.QUOTA_EXCEEDED,
        26,
        4,
        10,
        "POST /v1/quotes",
        description="one partner key used up its daily quota",
    ),
    Episode(
        "bad-bodies",
        C.BAD_REQUEST_BODY,
        27,
        2,
        6,
        "POST /orders",
        description="a client release sends bodies that fail the model",
    ),
    Episode(
        "missing-params",
        C.BAD_REQUEST_PARAMETERS,
        28,
        1,
        5,
        "GET /search",
        description="a client drops the required query string",
    ),
    Episode(
        "lambda-timeouts", C.LAMBDA_TIMEOUT, 31, 3, 4, "GET /search", description="shop-search hits its 10 s timeout"
    ),
    Episode(
        "slow-backend-timeouts",
        C.INTEGRATION_TIMEOUT,
        38,
        4,
        3,
        "POST /payments",
        takeover=True,
        description="the payment provider drifts past the 29 s integration timeout",
    ),
    Episode(
        "lambda-throttled",
        C.BACKEND_THROTTLED,
        43,
        2,
        10,
        "GET /products",
        description="shop-list-products hits its reserved concurrency (Lambda 429 wearing a 500)",
    ),
    Episode(
        "lambda-errors",
        C.LAMBDA_ERROR,
        45,
        2,
        5,
        "GET /products/{productId}",
        description="an unhandled exception in shop-get-product",
    ),
    Episode(
        "tls-mismatch",
        C.TLS_ERROR,
        47,
        2,
        3,
        "GET /inventory/{sku}",
        takeover=True,
        description="the inventory NLB got a certificate for another host name",
    ),
    Episode(
        "network-errors",
        C.NETWORK_ERROR,
        50,
        1,
        3,
        "GET /inventory/{sku}",
        takeover=True,
        description="the VPC link target is unreachable",
    ),
    Episode(
        "backend-502",
        C.BAD_GATEWAY,
        51,
        1,
        3,
        "GET /inventory/{sku}",
        takeover=True,
        description="the inventory service answers 502",
    ),
    Episode(
        "backend-503",
        C.SERVICE_UNAVAILABLE,
        52,
        1,
        3,
        "GET /inventory/{sku}",
        takeover=True,
        description="the inventory service is deploying (503)",
    ),
    Episode(
        "authorizer-broken",
        C.AUTHORIZER_ERROR,
        54,
        2,
        3,
        "POST /orders",
        takeover=True,
        description="the authorizer returns no policy",
    ),
    Episode(
        "mapping-error",
        C.CONFIGURATION_ERROR,
        56,
        1,
        3,
        "GET /reports/{reportId}",
        takeover=True,
        description="an integration response maps to a method response that does not exist",
    ),
    Episode(
        "big-uploads", C.PAYLOAD_TOO_LARGE, 57, 1, 2, "POST /orders", description="a client uploads a 12 MB attachment"
    ),
    Episode(
        "wrong-content-type",
        C.UNSUPPORTED_MEDIA_TYPE,
        57,
        1,
        2,
        "POST /v1/quotes",
        description="a partner sends text/xml",
    ),
    Episode(
        "denied",
        C.ACCESS_DENIED,
        58,
        1,
        3,
        "GET /orders/{orderId}",
        description="the authorizer denies another tenant's order",
    ),
    Episode("expired-tokens", C.UNAUTHORIZED, 58, 1, 3, "POST /payments", description="an app sends expired tokens"),
    Episode(
        "not-implemented",
        C.SERVER_ERROR_OTHER,
        59,
        1,
        2,
        "GET /reports/{reportId}",
        description="the reports function answers 501 for a new format",
    ),
    Episode(
        "duplicate-orders",
        C.CONFLICT,
        59,
        1,
        2,
        "POST /orders",
        description="idempotency keys replayed with another payload",
    ),
)

#: The hour's silent stretch, between incidents: the stage is unreachable and nothing is logged at all —
#: the case only an alarm that treats missing data as breaching sees (the silence alarm).
DEMO_OUTAGES: tuple[Outage, ...] = (
    Outage(
        "stage-unreachable",
        34,
        3,
        description="a custom-domain base-path mapping is deleted: no request reaches the stage",
    ),
)

DEMO_LATENCY_DRIFTS: tuple[LatencyDrift, ...] = (
    LatencyDrift("POST /payments", 32, 6, 27_500.0),  # SLOW, then NEAR_TIMEOUT, then the timeouts above
)

# Background noise on baseline traffic (probability per request) — the small, constant error floor.
_NOISE: tuple[tuple[ErrorCategory, float], ...] = (
    (C.NOT_FOUND, 0.012),
    (C.BAD_REQUEST, 0.006),
    (C.UNAUTHORIZED, 0.004),
    (C.CLIENT_ERROR_OTHER, 0.002),
    (C.CONFLICT, 0.002),
    (C.INTERNAL_ERROR, 0.001),
)

#: Categories an HTTP API cannot produce (no API keys/usage plans, WAF, request validation, mapping
#: templates or execution logs) or whose HTTP API wording is undocumented — left out of HTTP traffic.
HTTP_API_UNSUPPORTED: frozenset[ErrorCategory] = frozenset(
    {
        C.MISSING_AUTH_TOKEN,
        C.INVALID_API_KEY,
        C.QUOTA_EXCEEDED,
        C.WAF_BLOCKED,
        C.BAD_REQUEST_BODY,
        C.BAD_REQUEST_PARAMETERS,
        C.UNSUPPORTED_MEDIA_TYPE,
        C.CONFIGURATION_ERROR,
        C.MALFORMED_RESPONSE,
        C.LAMBDA_TIMEOUT,
        C.LAMBDA_ERROR,
        C.BACKEND_THROTTLED,
        C.TLS_ERROR,
        C.NETWORK_ERROR,
        C.INTEGRATION_TIMEOUT,
    }
)


# ---------------------------------------------------------------------------------------------------
# Per-category shape: what API Gateway reports for each cause
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Shape:
    status: int
    response_type: str | None = None
    message: str | None = None  # REST $context.error.message
    http_message: str | None = None  # HTTP API $context.error.message
    reaches_integration: bool = True
    passthrough: bool = False  # the backend's own status, passed through by a proxy integration


# DEFAULT messages: 'Internal server error' (REST) / 'Internal Server Error' (HTTP API) per the reference §2.7.
_ISE = "Internal server error"
_AUTHORIZER_CATEGORIES = frozenset({C.UNAUTHORIZED, C.ACCESS_DENIED, C.AUTHORIZER_ERROR})
_SHAPES: dict[ErrorCategory, _Shape] = {
    C.OK: _Shape(200),
    C.BAD_REQUEST_BODY: _Shape(400, "BAD_REQUEST_BODY", "Invalid request body", reaches_integration=False),
    C.BAD_REQUEST_PARAMETERS: _Shape(
        400, "BAD_REQUEST_PARAMETERS", "Missing required request parameters: [q]", reaches_integration=False
    ),
    C.BAD_REQUEST: _Shape(400, passthrough=True),
    C.UNAUTHORIZED: _Shape(401, "UNAUTHORIZED", "Unauthorized", "Unauthorized", reaches_integration=False),
    C.ACCESS_DENIED: _Shape(
        403,
        "ACCESS_DENIED",
        "User is not authorized to access this resource with an explicit deny",
        "Forbidden",
        reaches_integration=False,
    ),
    C.INVALID_API_KEY: _Shape(403, "INVALID_API_KEY", "Forbidden", reaches_integration=False),
    C.WAF_BLOCKED: _Shape(403, "WAF_FILTERED", "Forbidden", reaches_integration=False),
    C.MISSING_AUTH_TOKEN: _Shape(
        403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", reaches_integration=False
    ),
    C.NOT_FOUND: _Shape(404, passthrough=True),
    C.CONFLICT: _Shape(409, passthrough=True),
    C.PAYLOAD_TOO_LARGE: _Shape(
        413, "REQUEST_TOO_LARGE", "Request Too Long", "Request Entity Too Large", reaches_integration=False
    ),
    C.UNSUPPORTED_MEDIA_TYPE: _Shape(
        415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type", reaches_integration=False
    ),
    C.QUOTA_EXCEEDED: _Shape(429, "QUOTA_EXCEEDED", "Limit Exceeded", reaches_integration=False),
    C.THROTTLED: _Shape(429, "THROTTLED", "Too Many Requests", "Too Many Requests", reaches_integration=False),
    C.CLIENT_ERROR_OTHER: _Shape(422, passthrough=True),
    C.BACKEND_THROTTLED: _Shape(500, "API_CONFIGURATION_ERROR", _ISE),
    C.INTEGRATION_PERMISSION: _Shape(500, "API_CONFIGURATION_ERROR", _ISE, "Internal Server Error"),
    C.AUTHORIZER_ERROR: _Shape(
        500, "AUTHORIZER_CONFIGURATION_ERROR", _ISE, "Internal Server Error", reaches_integration=False
    ),
    C.CONFIGURATION_ERROR: _Shape(500, "API_CONFIGURATION_ERROR", _ISE),
    C.MALFORMED_RESPONSE: _Shape(502, "INTEGRATION_FAILURE", _ISE),
    C.LAMBDA_TIMEOUT: _Shape(502, "INTEGRATION_FAILURE", _ISE),
    C.LAMBDA_ERROR: _Shape(502, "INTEGRATION_FAILURE", _ISE),
    C.BAD_GATEWAY: _Shape(502, passthrough=True),
    C.SERVICE_UNAVAILABLE: _Shape(503, passthrough=True),
    C.INTEGRATION_TIMEOUT: _Shape(504, "INTEGRATION_TIMEOUT", "Endpoint request timed out", "Service Unavailable"),
    C.NETWORK_ERROR: _Shape(504, "INTEGRATION_FAILURE", "Network error communicating with endpoint"),
    C.TLS_ERROR: _Shape(500, "API_CONFIGURATION_ERROR", _ISE),
    C.INTERNAL_ERROR: _Shape(500, passthrough=True),
    C.SERVER_ERROR_OTHER: _Shape(501, passthrough=True),
}

# Real HTTP API messages (reference §2.5, corpus A18/A19 and classmethod 2023).
_HTTP_PERMISSION_MESSAGES = (
    "The IAM role configured on the integration or API Gateway doesn't have permissions to call the integration. "
    "Check the permissions and try again",
    "API Gateway doesn\u2019t have permissions to assume the IAM role configured on the integration. "
    "Check the permissions and try again.",
)
_HTTP_AUTHORIZER_MESSAGES = (
    "The response from the Lambda Authorizer function doesn't match the format that API Gateway expects. "
    "Simple response did not include 'isAuthorized'",
    "The IAM role configured on the authorizer or API Gateway doesn't have permissions to call the authorizer. "
    "Check the permissions and try again.",
)
_FUNCTION_ERRORS = (
    "Cannot read properties of undefined (reading 'items')",
    "'PRODUCTS_TABLE'",
    "connect ECONNREFUSED 10.0.3.17:5432",
)
_BACKEND_BODIES = {400: 43, 404: 36, 409: 52, 422: 61, 500: 35, 501: 41, 502: 24, 503: 33}
_CLIENT_BODY = {
    400: 36,
    401: 26,
    403: 40,
    413: 30,
    415: 36,
    429: 29,
    500: 36,
    502: 36,
    504: 41,
}
_USER_AGENTS = (
    "okhttp/4.12.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15",
    "python-requests/2.32.3",
    "axios/1.7.2",
    "Amazon CloudFront",
    "Go-http-client/2.0",
)
_SCAN_PATHS = (
    "/wp-login.php",
    "/.env",
    "/admin",
    "/api/v1/users",
    "/orders/",
    "/Products",
    "/phpmyadmin/index.php",
    "/.git/config",
    "/actuator/health",
    "/graphql",
)
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_HEX = "0123456789abcdef"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(slots=True)
class _Integration:
    """What the integration did for one request (all None when the request never reached it)."""

    latency_ms: int | None = None
    service_status: int | None = None  # $context.integrationStatus
    function_status: int | None = None  # $context.integration.status
    lambda_request_id: str | None = None
    error: str | None = None  # $context.integration.error
    detail: str | None = None  # the cause's wording in the execution log


def _error_message(category: ErrorCategory, shape: _Shape, resource: str | None, http: bool) -> str | None:
    if resource is None and category is C.NOT_FOUND:
        return "Not Found"  # an HTTP API's answer to a route it does not have
    return shape.http_message if http else shape.message


def _waf_response_code(category: ErrorCategory, http: bool) -> str | None:
    if category is C.WAF_BLOCKED:
        return "WAF_BLOCK"
    return None if http else "WAF_ALLOW"


def _authorizer_id(category: ErrorCategory, route: Route | None) -> str | None:
    if route is None:
        return None
    return route.authorizer or (_AUTH if category in _AUTHORIZER_CATEGORIES else None)


def _clf_time(ms: int) -> str:
    t = time.gmtime(ms // 1000)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def _iso_time(ms: int) -> str:
    t = time.gmtime(ms // 1000)
    return f"{t.tm_year}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{ms % 1000:03d}Z"


# ---------------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------------


class TrafficSimulator:
    """Builds `SimulatedRequest`s for one API stage from one seeded random source.

    `request(category, ts, route)` is the building block; `baseline`, `episode` and `hour` compose it.
    """

    def __init__(
        self,
        seed: int = 7,
        *,
        api_id: str = "k7x2m9qp4a",
        stage: str = "prod",
        api_kind: str = REST,
        routes: Sequence[Route] | None = None,
        region: str = DEFAULT_REGION,
        account: str = DEFAULT_ACCOUNT,
    ) -> None:
        if api_kind not in (REST, HTTP):
            raise ValueError(f"api_kind must be REST or HTTP, got {api_kind!r}")
        self.rng = random.Random(seed)
        self.api_id = api_id
        self.stage = stage
        self.api_kind = api_kind
        self.routes = tuple(routes or demo_routes())
        self.by_key = {r.key: r for r in self.routes}
        self.region = region
        self.account = account
        self._weights = [r.weight for r in self.routes]
        self._cum = list(_cumulative(self._weights))
        self._keys: dict[str, str] = {}  # partner name -> masked key
        self._ips = [self._ip() for _ in range(80)]

    # -- ids -------------------------------------------------------------------------------------
    def _uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"

    def _ext_id(self) -> str:
        choice = self.rng.choice
        return "".join(choice(_B64) for _ in range(15)) + "="

    def _ip(self) -> str:
        r = self.rng.randrange
        first = r(11, 223)
        if first in (100, 127, 169, 172, 192):  # keep clear of private, loopback and link-local ranges
            first += 1
        return f"{first}.{r(0, 256)}.{r(0, 256)}.{r(1, 255)}"

    def _masked_key(self) -> str:
        choice = self.rng.choice
        return "*" * 34 + "".join(choice(_B64[:62]) for _ in range(6))

    # -- paths -----------------------------------------------------------------------------------
    def _path(self, resource: str) -> str:
        if "{" not in resource:
            return resource
        out = []
        for part in resource.split("/"):
            if part.startswith("{"):
                name = part[1:-1]
                if name == "sku":
                    out.append(f"SKU-{self.rng.randrange(10000, 99999)}")
                else:
                    out.append(f"{self.rng.getrandbits(40):010x}")
            else:
                out.append(part)
        return "/".join(out)

    def pick_route(self) -> Route:
        x = self.rng.random() * self._cum[-1]
        for route, edge in zip(self.routes, self._cum, strict=False):
            if x < edge:
                return route
        return self.routes[-1]

    def _latency(self, base: float) -> int:
        rng = self.rng
        value = base * rng.lognormvariate(0.0, 0.45)
        roll = rng.random()
        if roll < 0.012:  # the tail: cold starts, GC pauses, a slow downstream call
            value *= rng.uniform(8.0, 40.0)
        elif roll < 0.06:
            value *= rng.uniform(2.0, 5.0)
        return max(1, int(value))

    def _uri(self, route: Route, path: str) -> str:
        if route.integration == "http":
            return f"https://{route.target}{path}"
        return (
            f"https://lambda.{self.region}.amazonaws.com/2015-03-31/functions/arn:aws:lambda:{self.region}:"
            f"{self.account}:function:{route.target}/invocations"
        )

    # -- the building block ----------------------------------------------------------------------
    # The random draws happen in one fixed order (route, request line, ids, latencies, integration,
    # authorizer, API key, response, client): the seeded output is what samples/ and the benchmarks hold.
    def request(
        self,
        category: ErrorCategory,
        ts: int,
        route: Route | None = None,
        *,
        integration_ms: float | None = None,
        partner: str | None = None,
    ) -> SimulatedRequest:
        """A request that fails (or succeeds) for `category` at epoch-ms `ts` on `route`."""
        rng = self.rng
        shape = _SHAPES[category]
        http = self.api_kind == HTTP
        route = self._route_for(category, route)
        method, resource, path = self._request_line(category, route, http)
        ext = self._ext_id()
        rid = ext if http else self._uuid()
        status = shape.status
        if category is C.OK:
            status = route.ok_status if route else 200
        overhead = rng.randint(3, 14)
        auth_ms = rng.randint(4, 40) if route is not None and route.authorizer else 0
        backend = self._integration(category, shape, route, resource, status, ts, integration_ms)
        authorizer_error = rng.choice(_HTTP_AUTHORIZER_MESSAGES) if category is C.AUTHORIZER_ERROR and http else None
        api_key = self._api_key(category, route, partner)
        response_latency = self._response_latency(category, backend.latency_ms, overhead + auth_ms, overhead)
        length = self._response_length(category, shape, status)
        return SimulatedRequest(
            category=category,
            api_kind=self.api_kind,
            api_id=self.api_id,
            stage=self.stage,
            method=method,
            resource=resource,
            path=path,
            status=status,
            timestamp_ms=ts,
            request_id=rid,
            extended_request_id=ext,
            ip=rng.choice(self._ips),
            user_agent=rng.choice(_USER_AGENTS),
            response_length=length,
            response_latency_ms=response_latency,
            integration_latency_ms=backend.latency_ms,
            integration_status=backend.function_status,
            integration_service_status=backend.service_status,
            error_response_type=shape.response_type,
            error_message=_error_message(category, shape, resource, http),
            integration_error=backend.error,
            authorizer_error=authorizer_error,
            waf_response_code=_waf_response_code(category, http),
            integration=route.integration if route is not None else "lambda",
            integration_uri=self._uri(route, path) if route is not None else None,
            lambda_request_id=backend.lambda_request_id,
            resource_id=route.resource_id if route is not None else "-",
            api_key_masked=api_key,
            authorizer_id=_authorizer_id(category, route),
            cause_detail="Limit: 10.00 Burst: 20" if category is C.THROTTLED else backend.detail,
        )

    def _route_for(self, category: ErrorCategory, route: Route | None) -> Route | None:
        """The given route, else a random one; none for a request to a URL the API does not have."""
        if category is C.MISSING_AUTH_TOKEN:
            return None
        return route if route is not None else self.pick_route()

    def _request_line(self, category: ErrorCategory, route: Route | None, http: bool) -> tuple[str, str | None, str]:
        """Method, resource template (None: no route matched) and concrete path."""
        rng = self.rng
        method = route.method if route else rng.choice(("GET", "GET", "POST"))
        resource = route.resource if route else None
        path = self._path(route.resource) if route else rng.choice(_SCAN_PATHS)
        if self.api_kind == HTTP and category is C.NOT_FOUND and rng.random() < 0.5:
            resource, path = None, rng.choice(_SCAN_PATHS)  # an HTTP API answers an unknown route with 404
        return method, resource, path

    def _integration(
        self,
        category: ErrorCategory,
        shape: _Shape,
        route: Route | None,
        resource: str | None,
        status: int,
        ts: int,
        integration_ms: float | None,
    ) -> _Integration:
        """What the integration did: nothing for a request that never reached it (no route matched, or
        API Gateway answered itself)."""
        if not shape.reaches_integration or resource is None or route is None:
            return _Integration()
        out = _Integration(int(integration_ms) if integration_ms is not None else self._latency(route.base_ms))
        lam = route.integration.startswith("lambda")
        if lam:
            out.lambda_request_id = self._uuid()
            out.service_status = 200
        if category is C.OK or shape.passthrough:
            out.function_status = status
            if not lam:
                out.service_status = status
        else:
            self._integration_failure(category, route, ts, out)
        return out

    def _integration_failure(self, category: ErrorCategory, route: Route, ts: int, out: _Integration) -> None:
        """How each integration failure shows: latencies, statuses and the cause's wording."""
        rng = self.rng
        if category is C.LAMBDA_TIMEOUT:
            out.latency_ms = LAMBDA_TIMEOUT_S * 1000 + rng.randint(2, 60)
            out.detail = (
                f"{_iso_time(ts + out.latency_ms)} {out.lambda_request_id} Task timed out after "
                f"{LAMBDA_TIMEOUT_S}.00 seconds"
            )
            out.error = f"Lambda Customer Function Error:{out.detail}"
        elif category is C.LAMBDA_ERROR:
            out.detail = rng.choice(_FUNCTION_ERRORS)
            out.error = f"Lambda Customer Function Error:{out.detail}"
        elif category is C.BACKEND_THROTTLED:
            out.latency_ms = rng.randint(3, 25)
            out.service_status = 429
        elif category is C.INTEGRATION_PERMISSION:
            out.latency_ms = out.service_status = None
            if self.api_kind == HTTP:
                out.error = rng.choice(_HTTP_PERMISSION_MESSAGES)
        elif category is C.CONFIGURATION_ERROR:
            out.detail = f"Output mapping refers to an invalid method response: {rng.choice((201, 202, 404))}"
        elif category is C.INTEGRATION_TIMEOUT:
            out.latency_ms = INTEGRATION_TIMEOUT_MS + rng.randint(0, 12)
            out.service_status = out.lambda_request_id = None
        elif category in (C.NETWORK_ERROR, C.TLS_ERROR):
            out.latency_ms = out.service_status = None
            if category is C.TLS_ERROR:
                host = route.target
                out.detail = (
                    f"Host name '{host}' does not match the certificate subject provided by the peer "
                    f"(CN=*.{host.split('.', 1)[-1].replace('internal.', 'prod.')})"
                )

    def _api_key(self, category: ErrorCategory, route: Route | None, partner: str | None) -> str | None:
        """The masked API key a REST request carried: one per partner on keyed routes, or an unknown one."""
        api_key = None
        keyed = route is not None and (route.api_key or category in (C.THROTTLED, C.QUOTA_EXCEEDED))
        if keyed and self.api_kind != HTTP:
            who = partner or self.rng.choice(("acme", "globex", "initech"))
            api_key = self._keys.get(who)
            if api_key is None:
                api_key = self._keys[who] = self._masked_key()
        if category is C.INVALID_API_KEY:
            api_key = self._masked_key()  # a key no usage plan knows
        return api_key

    def _response_latency(
        self, category: ErrorCategory, integration_latency: int | None, gateway_ms: int, overhead: int
    ) -> int:
        """The integration's latency plus the gateway's own time (`gateway_ms`: overhead and authorizer)."""
        if integration_latency is not None:
            return integration_latency + gateway_ms
        if category is C.NETWORK_ERROR:
            return self.rng.randint(900, 10_500) + overhead  # connect attempts to an unreachable target
        return gateway_ms

    def _response_length(self, category: ErrorCategory, shape: _Shape, status: int) -> int:
        if self.api_kind == HTTP and category is C.INTEGRATION_PERMISSION:
            return 35  # {"message":"Internal Server Error"} (corpus A18)
        if shape.passthrough or category is C.OK:
            return _BACKEND_BODIES.get(status) or (self.rng.randint(120, 4_800) if status < 300 else 40)
        return _CLIENT_BODY.get(status, 36)

    # -- composition -----------------------------------------------------------------------------
    def _noise_category(self, route: Route) -> ErrorCategory:
        roll = self.rng.random()
        for category, p in _NOISE:
            if roll < p:
                if category is C.UNAUTHORIZED and not route.authorizer:
                    return C.OK
                if category is C.CONFLICT and route.method != "POST":
                    return C.OK
                if self.api_kind == HTTP and category in HTTP_API_UNSUPPORTED:
                    return C.OK
                return category
            roll -= p
        return C.OK

    def hour(
        self,
        *,
        start_ms: int = DEFAULT_START_MS,
        rate_per_minute: float = 60.0,
        minutes: int = 60,
        episodes: Sequence[Episode] = DEMO_EPISODES,
        drifts: Sequence[LatencyDrift] = DEMO_LATENCY_DRIFTS,
        outages: Sequence[Outage] = DEMO_OUTAGES,
    ) -> list[SimulatedRequest]:
        """Baseline traffic with noise and a latency tail, plus `episodes`, minus the `outages`' minutes,
        sorted by timestamp."""
        if self.api_kind == HTTP:
            episodes = [e for e in episodes if e.category not in HTTP_API_UNSUPPORTED]
        takeovers = [e for e in episodes if e.takeover]
        out: list[SimulatedRequest] = []
        for minute in range(minutes):
            minute_ms = start_ms + minute * 60_000
            drawn = self._baseline_minute(minute, minute_ms, rate_per_minute, drifts, takeovers)
            drawn += self._episodes_minute(minute, minute_ms, rate_per_minute / 60.0, episodes)
            if not any(o.covers(minute) for o in outages):  # drawn all the same: later minutes keep their bytes
                out += drawn
        out.sort(key=_by_time)
        return out

    def _baseline_minute(
        self,
        minute: int,
        minute_ms: int,
        rate_per_minute: float,
        drifts: Sequence[LatencyDrift],
        takeovers: Sequence[Episode],
    ) -> list[SimulatedRequest]:
        """One minute of baseline traffic: noise, drifting latencies, and routes an episode took over."""
        rng = self.rng
        out: list[SimulatedRequest] = []
        for _ in range(_poisson_like(rng, rate_per_minute)):
            ts = minute_ms + rng.randrange(60_000)
            route = self.pick_route()
            category = self._noise_category(route)
            integration_ms = self._drifted_latency(route, minute, drifts)
            for ep in takeovers:
                if ep.route == route.key and ep.start_minute <= minute < ep.end_minute:
                    category = ep.category
                    integration_ms = None
            out.append(self.request(category, ts, route, integration_ms=integration_ms))
        return out

    def _drifted_latency(self, route: Route, minute: int, drifts: Sequence[LatencyDrift]) -> float | None:
        """The integration latency of a route whose latency drifts by this minute (None: no drift)."""
        integration_ms = None
        for drift in drifts:
            if drift.route == route.key and drift.start_minute <= minute:
                progress = min(1.0, (minute - drift.start_minute + 1) / max(1, drift.minutes))
                integration_ms = (route.base_ms + (drift.to_ms - route.base_ms) * progress) * self.rng.uniform(
                    0.9, 1.04
                )
        return integration_ms

    def _episodes_minute(
        self, minute: int, minute_ms: int, scale: float, episodes: Sequence[Episode]
    ) -> list[SimulatedRequest]:
        """The extra requests of every episode running in this minute (`scale`: the rate against 60/min)."""
        out: list[SimulatedRequest] = []
        for ep in episodes:
            if not ep.start_minute <= minute < ep.end_minute:
                continue
            route = self.by_key.get(ep.route) if ep.route else None
            if ep.route and route is None:
                continue
            n = max(1, round(ep.per_minute * scale))
            partner = "globex" if ep.category in (C.THROTTLED, C.QUOTA_EXCEEDED) else None
            for _ in range(n):
                ts = minute_ms + self.rng.randrange(60_000)
                out.append(self.request(ep.category, ts, route, partner=partner))
        return out


def _audible_minute(minute: int, outages: Sequence[Outage]) -> int:
    """`minute`, or the first minute after the outage that silences it."""
    for outage in outages:
        if outage.covers(minute):
            return _audible_minute(outage.end_minute, outages)
    return minute


def _by_time(req: SimulatedRequest) -> int:
    return req.timestamp_ms


def _cumulative(weights: Iterable[float]) -> Iterator[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


def _poisson_like(rng: random.Random, mean: float) -> int:
    """A cheap, deterministic count around `mean` (normal approximation, clipped at 0)."""
    return max(0, round(rng.gauss(mean, mean**0.5)))


def demo_hour(
    seed: int = 7,
    api_id: str = "k7x2m9qp4a",
    stage: str = "prod",
    *,
    start_ms: int = DEFAULT_START_MS,
    rate_per_minute: float = 60.0,
    api_kind: str = REST,
    episodes: Sequence[Episode] = DEMO_EPISODES,
    outages: Sequence[Outage] = DEMO_OUTAGES,
) -> Iterator[SimulatedRequest]:
    """An hour of traffic for one API, every incident of `DEMO_EPISODES` at its own minutes and the
    silent stretch of `DEMO_OUTAGES`, in time order.

    With the REST default every `ErrorCategory` occurs at least once (the background noise supplies
    NOT_FOUND, BAD_REQUEST, CLIENT_ERROR_OTHER and INTERNAL_ERROR at realistic rates).
    """
    sim = TrafficSimulator(seed, api_id=api_id, stage=stage, api_kind=api_kind)
    hour = sim.hour(start_ms=start_ms, rate_per_minute=rate_per_minute, episodes=episodes, outages=outages)
    # The rare noise categories are guaranteed once each, so a short or slow hour still shows them.
    seen = {r.category for r in hour}
    extra = []
    for i, (category, _) in enumerate(_NOISE):
        if category not in seen and not (api_kind == HTTP and category in HTTP_API_UNSUPPORTED):
            route = (
                sim.by_key["POST /orders"]
                if category in (C.CONFLICT, C.UNAUTHORIZED)
                else sim.by_key["GET /products/{productId}"]
            )
            minute = _audible_minute(7 + 9 * i, outages)
            extra.append(sim.request(category, start_ms + minute * 60_000 + 1_234, route))
    if extra:
        hour = sorted(hour + extra, key=_by_time)
    return iter(hour)


#: Where each category happens in the demo API when no episode says so (noise categories).
_DEFAULT_ROUTE = {
    C.OK: "GET /products",
    C.NOT_FOUND: "GET /products/{productId}",
    C.BAD_REQUEST: "POST /orders",
    C.CLIENT_ERROR_OTHER: "POST /orders",
    C.INTERNAL_ERROR: "GET /products/{productId}",
}


def example_request(
    category: ErrorCategory, api_kind: str = REST, *, seed: int = 1, ts: int = DEFAULT_START_MS
) -> SimulatedRequest:
    """One request of `category` on the route where the demo hour makes it happen (for tests and docs)."""
    sim = TrafficSimulator(seed, api_kind=api_kind)
    key = _DEFAULT_ROUTE.get(category)
    if key is None:
        key = next((e.route for e in DEMO_EPISODES if e.category is category), "")
    if api_kind == HTTP and category in (
        C.INTEGRATION_PERMISSION,
        C.AUTHORIZER_ERROR,
        C.BAD_GATEWAY,
        C.SERVICE_UNAVAILABLE,
    ):
        key = key or "GET /products"
    return sim.request(category, ts, sim.by_key.get(key) if key else None)


# ---------------------------------------------------------------------------------------------------
# Access-log renderers
# ---------------------------------------------------------------------------------------------------


def _s(value: object) -> str:
    return "-" if value is None else str(value)


# canonical -> key, per naming style. `resource` becomes resourcePath (REST) or routeKey (HTTP).
_STYLE_KEYS: dict[str, dict[str, str]] = {
    "camel": {
        "ip": "ip",
        "user_agent": "userAgent",
        "integration_latency": "integrationLatency",
        "integration_status": "integrationStatus",
        # no integration_service_status: camel carries $context.integrationStatus only (see render_access_json)
        "error_response_type": "errorResponseType",
        "error_message": "errorMessage",
        "integration_error": "integrationErrorMessage",
        "authorizer_error": "authorizerError",
        "waf": "wafResponseCode",
        "response_latency": "responseLatency",
    },
    "dotted": {
        "ip": "identity.sourceIp",
        "user_agent": "identity.userAgent",
        "integration_latency": "integration.latency",
        "integration_status": "integration.status",
        "integration_service_status": "integration.integrationStatus",
        "error_response_type": "error.responseType",
        "error_message": "error.message",
        "integration_error": "integration.error",
        "authorizer_error": "authorizer.error",
        "waf": "wafResponseCode",
        "response_latency": "responseLatency",
    },
    "snake": {
        "ip": "identity_sourceIp",
        "user_agent": "identity_userAgent",
        "integration_latency": "integration_latency",
        "integration_status": "integration_status",
        "integration_service_status": "integration_integrationStatus",
        "error_response_type": "error_responseType",
        "error_message": "error_message",
        "integration_error": "integration_error",
        "authorizer_error": "authorizer_error",
        "waf": "wafResponseCode",
        "response_latency": "responseLatency",
    },
}


def render_access_json(req: SimulatedRequest, style: str = "camel") -> str:
    """A custom JSON access-log line with error, integration and latency fields, in one naming style.

    camel: `errorResponseType`, `errorMessage`, `integrationErrorMessage`, `integrationStatus`
    (= `$context.integrationStatus`), `integrationLatency`, `responseLatency`; dotted: the `$context`
    variable names (`error.responseType`, `integration.status`, …); snake: dots as underscores
    (`error_responseType`, `integration_status`, …). Values are not escaped — as API Gateway does.
    """
    keys = _STYLE_KEYS[style]
    http = req.api_kind == HTTP
    if style == "camel":
        # camel carries $context.integrationStatus only: for a Lambda proxy that is the service status
        # (200 even when the function failed); for HTTP integrations and HTTP APIs, the backend's status.
        istatus = (
            req.integration_service_status if req.integration_service_status is not None else req.integration_status
        )
        status_pairs: tuple[tuple[str, int | None], ...] = ((keys["integration_status"], istatus),)
    else:
        status_pairs = (
            (keys["integration_status"], req.integration_status),
            (keys["integration_service_status"], req.integration_service_status),
        )
    pairs = [
        ("requestId", req.request_id),
        ("extendedRequestId", req.extended_request_id),
        ("apiId", req.api_id),
        ("stage", req.stage),
        (keys["ip"], req.ip),
        (keys["user_agent"], req.user_agent),
        ("requestTime", _clf_time(req.timestamp_ms)),
        ("requestTimeEpoch", req.timestamp_ms),
        ("httpMethod", req.method),
        ("routeKey", req.route_key) if http else ("resourcePath", req.resource),
        ("path", req.path if http else f"/{req.stage}{req.path}"),
        ("status", req.status),
        ("protocol", "HTTP/1.1"),
        ("responseLength", req.response_length),
        (keys["response_latency"], req.response_latency_ms),
        (keys["integration_latency"], req.integration_latency_ms),
        *status_pairs,
        (keys["error_response_type"], req.error_response_type),
        (keys["error_message"], req.error_message),
        (keys["integration_error"], req.integration_error),
        (keys["authorizer_error"], req.authorizer_error),
    ]
    if not http:
        pairs.append((keys["waf"], req.waf_response_code))
    return "{" + ",".join(f'"{k}":"{_s(v)}"' for k, v in pairs) + "}"


def render_access_clf(req: SimulatedRequest) -> str:
    """The HTTP API CLF format of terraform-aws-modules/apigateway-v2, ending in integrationErrorMessage.

    `$context.identity.sourceIp - - [$context.requestTime] "$context.httpMethod $context.routeKey
    $context.protocol" $context.status $context.responseLength $context.requestId
    $context.integrationErrorMessage` (corpus A18).
    """
    return (
        f'{req.ip} - - [{_clf_time(req.timestamp_ms)}] "{req.method} {_s(req.route_key)} HTTP/1.1" '
        f"{req.status} {req.response_length} {req.request_id} {_s(req.integration_error)}"
    )


def render_access_csv(req: SimulatedRequest) -> str:
    """The console's default CSV format (REST, or HTTP API with routeKey)."""
    t = _clf_time(req.timestamp_ms)
    if req.api_kind == HTTP:
        return f"{req.ip},{t},{req.method},{_s(req.route_key)},HTTP/1.1,{req.status},{req.response_length},{req.request_id}"
    return (
        f"{req.ip},-,-,{t},{req.method},{_s(req.resource)},HTTP/1.1,{req.status},{req.response_length},"
        f"{req.request_id},{req.extended_request_id}"
    )


def render_access_xml(req: SimulatedRequest) -> str:
    """The console's default XML format, on one line as API Gateway writes it."""
    t = _clf_time(req.timestamp_ms)
    if req.api_kind == HTTP:
        return (
            f'<request id="{req.request_id}"> <ip>{req.ip}</ip> <requestTime>{t}</requestTime> '
            f"<httpMethod>{req.method}</httpMethod> <routeKey>{_s(req.route_key)}</routeKey> "
            f"<status>{req.status}</status> <protocol>HTTP/1.1</protocol> "
            f"<responseLength>{req.response_length}</responseLength> </request>"
        )
    return (
        f'<request id="{req.request_id}"> <extendedRequestId>{req.extended_request_id}</extendedRequestId> '
        f"<ip>{req.ip}</ip> <caller>-</caller> <user>-</user> <requestTime>{t}</requestTime> "
        f"<httpMethod>{req.method}</httpMethod> <resourcePath>{_s(req.resource)}</resourcePath> "
        f"<status>{req.status}</status> <protocol>HTTP/1.1</protocol> "
        f"<responseLength>{req.response_length}</responseLength> </request>"
    )


def render_access(req: SimulatedRequest, fmt: str) -> str:
    """Render by format name: json-camel, json-dotted, json-snake, clf, csv, xml."""
    if fmt.startswith("json-"):
        return render_access_json(req, fmt[5:])
    if fmt == "clf":
        return render_access_clf(req)
    if fmt == "csv":
        return render_access_csv(req)
    if fmt == "xml":
        return render_access_xml(req)
    raise ValueError(f"unknown access format {fmt!r}")


# ---------------------------------------------------------------------------------------------------
# Execution-log renderer (REST only; HTTP APIs have no execution logs)
# ---------------------------------------------------------------------------------------------------


def _usage_plan(req: SimulatedRequest, method_path: str) -> list[str]:
    api_stage = f"{req.api_id}/{req.stage}"
    key = req.api_key_masked
    lines = [
        f"Verifying Usage Plan for request: {req.request_id}. API Key: {key + ' ' if key else ''}API Stage: {api_stage}"
    ]
    if req.category is C.INVALID_API_KEY:
        lines.append(
            f"API Key {key} not authorized because method '{method_path}' requires API Key and API Key is "
            f"not associated with a Usage Plan for API Stage {api_stage}: API Stage is not in a Usage Plan"
        )
        return lines
    if req.category is C.THROTTLED:
        lines.append(
            f"Key throttle limit exceeded for RestApi {req.api_id}, Stage {req.stage}, Resource "
            f"{req.resource_id}, HttpMethod {req.method}. {req.cause_detail}"
        )
        return lines
    if req.category is C.QUOTA_EXCEEDED:
        return lines  # no verbatim quota line was ever recorded: render none
    if key:
        lines.append(f"Usage Plan check succeeded for API Key {key} and API Stage {api_stage}")
    else:
        lines.append(
            f"API Key authorized because method '{method_path}' does not require API Key. "
            "Request will not contribute to throttle or quota limits"
        )
        lines.append(f"Usage Plan check succeeded for API Key and API Stage {api_stage}")
    return lines


def render_execution_lines(req: SimulatedRequest) -> list[str]:
    """The REST execution-log messages of one request (INFO level, no data trace), each `(requestId) `-prefixed.

    Order and wording follow the reference §3.3 catalogue. Requests that never reach API Gateway's
    execution (WAF blocks, unknown routes) and all HTTP API requests log nothing: `[]`.
    """
    if req.api_kind != REST or req.category in (C.WAF_BLOCKED, C.MISSING_AUTH_TOKEN) or req.resource is None:
        return []
    body = [f"Extended Request Id: {req.extended_request_id}"]
    body += _execution_steps(req, f"Method completed with status: {req.status}")
    return _prefix(req.request_id, body)


#: Where API Gateway stops before the integration: after the usage plan, after request validation.
_USAGE_PLAN_REJECTIONS = frozenset({C.INVALID_API_KEY, C.THROTTLED, C.QUOTA_EXCEEDED})
_REQUEST_REJECTIONS = frozenset({C.BAD_REQUEST_BODY, C.BAD_REQUEST_PARAMETERS, C.UNSUPPORTED_MEDIA_TYPE})


def _execution_steps(req: SimulatedRequest, done: str) -> list[str]:
    """Authorizer, usage plan, method request and integration, up to the step where the request ends."""
    cat = req.category
    if cat is C.PAYLOAD_TOO_LARGE:
        return [done]
    lines: list[str] = []
    if req.authorizer_id:
        authorizer, finished = _authorizer_lines(req, done)
        lines += authorizer
        if finished:
            return lines
    lines += _usage_plan(req, f"{req.method} {req.resource}")
    if cat in _USAGE_PLAN_REJECTIONS:
        return lines + [done]
    lines.append(f"Starting execution for request: {req.request_id}")
    lines.append(f"HTTP Method: {req.method}, Resource Path: {req.path}")
    if cat in _REQUEST_REJECTIONS:
        return lines + [done]
    return lines + _integration_lines(req, done)


def _authorizer_lines(req: SimulatedRequest, done: str) -> tuple[list[str], bool]:
    """The Lambda authorizer's lines, and whether the request ends there."""
    cat = req.category
    lines = [f"Starting authorizer: {req.authorizer_id} for request: {req.request_id}"]
    if cat is C.UNAUTHORIZED:
        return lines + [f"Unauthorized request: {req.request_id}"], True  # corpus: no completion line follows
    if cat is C.AUTHORIZER_ERROR:
        lines += [
            "Authorizer result body before parsing: null",
            "Execution failed due to configuration error: Could not parse policy",
            "AuthorizerConfigurationException",
        ]
        return lines, True
    lines.append("Successfully completed authorizer execution")
    if cat is C.ACCESS_DENIED:
        return lines + [done], True
    return lines, False


def _integration_lines(req: SimulatedRequest, done: str) -> list[str]:
    """The integration request and, unless it failed before answering, its response."""
    cat = req.category
    uri = req.integration_uri or ""
    lines = [f"Endpoint request URI: {uri}", f"Sending request to {uri}"]
    if cat is C.BACKEND_THROTTLED:
        return lines + [
            f"Lambda invocation failed with status: 429. Lambda request id: {req.lambda_request_id}",
            "Execution failed due to configuration error: Rate Exceeded.",
            done,
        ]
    if cat is C.INTEGRATION_PERMISSION:
        return lines + ["Execution failed due to configuration error: Invalid permissions on Lambda function", done]
    if cat is C.INTEGRATION_TIMEOUT:
        return lines + ["Execution failed due to a timeout error", done]
    if cat is C.TLS_ERROR:
        return lines + [f"Execution failed due to configuration error: {req.cause_detail}", done]
    if cat is C.NETWORK_ERROR:
        return lines + [done]  # the client sees "Network error communicating with endpoint"; no log line recorded
    svc = req.integration_service_status if req.integration_service_status is not None else req.status
    lines.append(f"Received response. Status: {svc}, Integration latency: {req.integration_latency_ms} ms")
    lines.append(_response_outcome(req))
    lines.append(done)
    if req.lambda_request_id:
        lines.append(f"AWS Integration Endpoint RequestId : {req.lambda_request_id}")
    return lines


def _response_outcome(req: SimulatedRequest) -> str:
    """What API Gateway made of the integration's response."""
    cat = req.category
    if cat is C.MALFORMED_RESPONSE:
        return "Execution failed due to configuration error: Malformed Lambda proxy response"
    if cat in (C.LAMBDA_TIMEOUT, C.LAMBDA_ERROR):
        return (
            f"Lambda execution failed with status 200 due to customer function error: {req.cause_detail}. "
            f"Lambda request id: {req.lambda_request_id}"
        )
    if cat is C.CONFIGURATION_ERROR:
        return f"Execution failed due to configuration error: {req.cause_detail}"
    return "Successfully completed execution"


def _prefix(request_id: str, messages: list[str]) -> list[str]:
    head = f"({request_id}) "
    return [head + m for m in messages]


def execution_events(req: SimulatedRequest) -> list[tuple[int, str]]:
    """`render_execution_lines` with CloudWatch timestamps: the integration's latency passes between
    `Sending request` and the response, and the request ends at its response latency."""
    lines = render_execution_lines(req)
    if not lines:
        return []
    t0 = req.timestamp_ms
    sent = t0 + min(3, req.response_latency_ms)
    end = t0 + req.response_latency_ms
    out: list[tuple[int, str]] = []
    after_send = False
    for line in lines:
        if after_send:
            out.append((end, line))
        else:
            out.append((t0 if "Sending request" not in line else sent, line))
            if "Sending request" in line:
                after_send = True
    return out


def evidence_formats(category: ErrorCategory, api_kind: str = REST) -> frozenset[str]:
    """The renderings (see `FORMATS`) whose lines carry enough to tell `category` apart.

    Status-only formats (console CSV/XML, CLF) carry a category only when the status-only fallback
    gives it. The JSON formats carry the error fields, but for a malformed proxy response, a lost
    Lambda permission and a TLS failure a REST API logs only API_CONFIGURATION_ERROR/INTEGRATION_FAILURE
    and "Internal server error" — the cause is in the execution log alone. The execution log has no
    recorded wording for validation, quota, WAF, wrong-URL and network failures.
    """
    shape = _SHAPES[category]
    by_status = fallback_category(shape.status) is category
    out: set[str] = set()
    if api_kind == HTTP:
        if category in HTTP_API_UNSUPPORTED:
            return frozenset()
        if by_status or category is C.INTEGRATION_PERMISSION:
            out.add("clf")
        if by_status:
            out |= {"csv", "xml"}
        out |= {"json-camel", "json-dotted", "json-snake"}
        return frozenset(out)
    if by_status:
        out |= {"clf", "csv", "xml"}
    if category not in (C.MALFORMED_RESPONSE, C.INTEGRATION_PERMISSION, C.TLS_ERROR):
        out |= {"json-camel", "json-dotted", "json-snake"}
    if category not in (
        C.BAD_REQUEST_BODY,
        C.BAD_REQUEST_PARAMETERS,
        C.WAF_BLOCKED,
        C.MISSING_AUTH_TOKEN,
        C.QUOTA_EXCEEDED,
        C.NETWORK_ERROR,
    ):
        out.add("execution")
    return frozenset(out)


# ---------------------------------------------------------------------------------------------------
# CloudWatch Logs envelopes
# ---------------------------------------------------------------------------------------------------


def execution_log_group(api_id: str, stage: str) -> str:
    return f"{EXECUTION_LOG_GROUP_PREFIX}{api_id}/{stage}"


def _event_id(ts: int, n: int) -> str:
    return f"3{ts:013d}{n:042d}"  # 56 digits, increasing, like CloudWatch's ids


def subscription_payload(
    log_group: str,
    lines: Iterable[str | tuple[int, str]],
    *,
    start_ms: int = DEFAULT_START_MS,
    log_stream: str = "0123456789abcdef0123456789abcdef",
    owner: str = DEFAULT_ACCOUNT,
    subscription_filters: Sequence[str] = ("gatewatch",),
    first_id: int = 0,
) -> dict:
    """A decoded CloudWatch Logs DATA_MESSAGE: `lines` are messages, or (timestamp_ms, message) pairs."""
    events = []
    for i, item in enumerate(lines):
        if isinstance(item, tuple):
            ts, message = item
        else:
            ts, message = start_ms + i, item
        events.append({"id": _event_id(ts, first_id + i), "timestamp": ts, "message": message})
    return {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": list(subscription_filters),
        "logEvents": events,
    }


class PayloadOptions(TypedDict, total=False):
    """What `build_payloads` passes on to every `subscription_payload`."""

    start_ms: int
    log_stream: str
    owner: str
    subscription_filters: Sequence[str]


def build_payloads(
    log_group: str,
    events: Iterable[tuple[int, str]],
    *,
    max_bytes: int = 1_048_576,
    max_events: int = 10_000,
    **kwargs: Unpack[PayloadOptions],
) -> list[dict]:
    """Split timed events into payloads the way PutLogEvents batches are bounded (bytes + 26 per event)."""
    payloads: list[dict] = []
    batch: list[tuple[int, str]] = []
    size = 0
    first_id = 0
    for ts, message in events:
        cost = len(message.encode()) + 26
        if batch and (size + cost > max_bytes or len(batch) >= max_events):
            payloads.append(subscription_payload(log_group, batch, first_id=first_id, **kwargs))
            first_id += len(batch)
            batch, size = [], 0
        batch.append((ts, message))
        size += cost
    if batch:
        payloads.append(subscription_payload(log_group, batch, first_id=first_id, **kwargs))
    return payloads


def subscription_event(payload: dict, *, compression: str = "gzip") -> dict:
    """`{"awslogs": {"data": base64(gzip(json))}}` exactly as Lambda receives it (gzip mtime 0: deterministic)."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    if compression == "gzip":
        packed = gzip.compress(raw, mtime=0)
    else:
        import zlib

        packed = zlib.compress(raw)
    return {"awslogs": {"data": base64.b64encode(packed).decode()}}


def filter_log_events_output(events: Iterable[tuple[int, str]], *, log_stream: str) -> dict:
    """What `aws logs filter-log-events` prints (events + the deprecated, empty searchedLogStreams)."""
    return {
        "events": [
            {
                "logStreamName": log_stream,
                "timestamp": ts,
                "message": message,
                "ingestionTime": ts + 512,
                "eventId": _event_id(ts, i),
            }
            for i, (ts, message) in enumerate(events)
        ],
        "searchedLogStreams": [],
    }
