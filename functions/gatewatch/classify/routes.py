"""Routes: `METHOD /resource/{template}`, a route key, or UNMATCHED — never the raw path.

A route is a metric dimension, so it must come from a template (`$context.resourcePath`,
`$context.routeKey`), never from what a caller typed. Execution logs print only the requested path;
`template_path` turns the segments that look like values into `{id}`.
"""

from __future__ import annotations

from functools import lru_cache

from gatewatch.constants import ROUTE_UNMATCHED
from gatewatch.models import AccessRecord, AccessSummary, ExecutionRequest


def route_for_access(record: AccessRecord | AccessSummary) -> str:
    """`METHOD /resource/{template}`, a WebSocket/HTTP route key, or UNMATCHED — never the raw path."""
    return route_of(record.http_method, record.resource_path, record.route_key)


def route_of(http_method: str | None, resource_path: str | None, route_key: str | None) -> str:
    if route_key:
        if " " in route_key:
            return route_key
        if route_key.startswith("$"):
            return f"{http_method} {route_key}" if http_method and route_key == "$default" else route_key
    if resource_path and http_method and looks_like_template(resource_path):
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


_VALUE_CHARACTERS = frozenset(",.=:;@+%~?&")


def is_value_segment(segment: str) -> bool:
    """Does a path segment look like a value a caller typed (an id, a number, a token, coordinates)
    rather than a resource name? `42`, `ec88c780f6`, `35.212,128.709`, `0;jsessionid=abc` do; `v1`,
    `oauth2`, `{petId}` do not."""
    if not segment or segment[0] == "{":
        return False
    if len(segment) >= 24 or not _VALUE_CHARACTERS.isdisjoint(segment):
        return True
    digits = sum(ch.isdigit() for ch in segment)
    return digits == len(segment) or digits >= 3


@lru_cache(maxsize=4096)
def looks_like_template(path: str) -> bool:
    """A resource path as API Gateway's `$context.resourcePath` gives it (`/pets/{petId}`), not a raw path
    (`/pets/42`): only such a path may name a route, so a format that logs raw paths gets no route."""
    return len(path) <= _MAX_ROUTE_PATH and not any(map(is_value_segment, path.split("/")))


_MAX_ROUTE_PATH = 512


def template_path(path: str) -> str:
    """`/pets/42/photos` -> `/pets/{id}/photos`; bounded so a hostile path cannot blow up a report."""
    path = path.split("?", 1)[0][:512]
    return "/".join("{id}" if is_value_segment(seg) else seg for seg in path.split("/"))
