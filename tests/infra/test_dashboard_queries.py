"""The dashboards' Logs Insights tables are not empty for any access-log format gatewatch reads.

Each query is run (tests/infra/logs_insights.py) over lines the simulator renders in one format,
and its rows are compared with the truth the simulator started from: which requests failed, on
which route, with which status and cause."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable

import pytest

from gatewatch.parse.fields import FieldResolver
from gatewatch_demo import simulate as sim
from stacks.config import GatewatchConfigError, parse_config
from stacks.gatewatch_construct import HTTP_ACCESS_LOG_VARIABLES, REST_ACCESS_LOG_VARIABLES
from stacks.monitoring.insights import JSON_COLUMNS, ROUTE_COLUMN, AccessLogFormat, access_queries, field_spellings
from tests.infra.conftest import build_stack, example_config, resources, template_of
from tests.infra.logs_insights import run_query

REST_REQUESTS = list(sim.demo_hour(seed=5, rate_per_minute=6))
HTTP_REQUESTS = list(sim.demo_hour(seed=6, rate_per_minute=6, api_kind=sim.HTTP, stage="$default"))
FIELD_MAP = {"code_http": "status", "tpl": "resource_path", "why": "error_response_type", "rid": "request_id"}

#: $context variable -> the SimulatedRequest attribute it logs (the recommended format's values).
_CONTEXT_VALUES = {
    "requestId": "request_id",
    "extendedRequestId": "extended_request_id",
    "apiId": "api_id",
    "stage": "stage",
    "httpMethod": "method",
    "resourcePath": "resource",
    "routeKey": "route_key",
    "status": "status",
    "responseLength": "response_length",
    "requestTimeEpoch": "timestamp_ms",
    "responseLatency": "response_latency_ms",
    "integrationLatency": "integration_latency_ms",
    "integrationStatus": "integration_service_status",
    "integration.status": "integration_status",
    "integration.error": "integration_error",
    "integrationErrorMessage": "integration_error",
    "error.responseType": "error_response_type",
    "error.message": "error_message",
    "authorizer.error": "authorizer_error",
    "wafResponseCode": "waf_response_code",
}


def _recommended(r: sim.SimulatedRequest) -> dict[str, str]:
    """The line the recommended format (what the Gatewatch construct sets) logs for `r`."""
    variables = HTTP_ACCESS_LOG_VARIABLES if r.api_kind == sim.HTTP else REST_ACCESS_LOG_VARIABLES
    out = {}
    for v in variables:
        value = getattr(r, _CONTEXT_VALUES[v]) if v in _CONTEXT_VALUES else None
        out[v] = "HTTP/1.1" if v == "protocol" else "-" if value is None else str(value)
    return out


def _snake_case(r: sim.SimulatedRequest) -> str:
    """The recommended keys in snake_case (error_response_type, integration_latency, http_method, ...)."""
    line = _recommended(r)
    line.pop("integrationStatus")  # its snake spelling is integration.status's: a snake format has one of them
    return json.dumps({re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", k).lower().replace(".", "_"): v for k, v in line.items()})


def _field_mapped(r: sim.SimulatedRequest) -> str:
    """Custom key names, read through the config's fieldMap."""
    line = _recommended(r)
    renamed = {"status": "code_http", "resourcePath": "tpl", "error.responseType": "why", "requestId": "rid"}
    return json.dumps({renamed.get(k, k): v for k, v in line.items()})


RENDERERS: dict[str, tuple[Callable[[sim.SimulatedRequest], str], AccessLogFormat]] = {
    "recommended": (lambda r: json.dumps(_recommended(r)), AccessLogFormat.JSON),
    "camelCase": (lambda r: sim.render_access_json(r, "camel"), AccessLogFormat.JSON),
    "dotted": (lambda r: sim.render_access_json(r, "dotted"), AccessLogFormat.JSON),
    "dots-as-underscores": (lambda r: sim.render_access_json(r, "snake"), AccessLogFormat.JSON),
    "snake_case": (_snake_case, AccessLogFormat.JSON),
    "fieldMap": (_field_mapped, AccessLogFormat.JSON),
    "clf": (sim.render_access_clf, AccessLogFormat.CLF),
    "csv": (sim.render_access_csv, AccessLogFormat.CSV),
    "xml": (sim.render_access_xml, AccessLogFormat.XML),
}
CASES = [(name, kind) for name in RENDERERS for kind in (sim.REST, sim.HTTP)]


def _route(r: sim.SimulatedRequest, fmt: AccessLogFormat) -> str:
    if fmt is AccessLogFormat.JSON and r.api_kind == sim.HTTP:
        return r.route_key or "-"  # an HTTP API's route key holds the method
    return f"{r.method} {r.resource or '-'}"


def _run(name: str, kind: str, which: str) -> tuple[list[dict], list[sim.SimulatedRequest], AccessLogFormat]:
    render, fmt = RENDERERS[name]
    requests = REST_REQUESTS if kind == sim.REST else HTTP_REQUESTS
    queries = access_queries(fmt, FIELD_MAP if name == "fieldMap" else None)
    rows = run_query(getattr(queries, which), [(r.timestamp_ms, render(r)) for r in requests])
    return rows, requests, fmt


@pytest.mark.parametrize(("name", "kind"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_top_failing_routes_are_the_routes_that_failed_most(name, kind):
    # GIVEN an hour of a stage's access log in one format WHEN the dashboard's table runs over it
    rows, requests, fmt = _run(name, kind, "top_failing_routes")
    # THEN it lists the ten (route, status) pairs with the most failures, with their counts
    truth = Counter((_route(r, fmt), str(r.status)) for r in requests if r.status >= 400)
    assert len(rows) == min(10, len(truth)) == 10
    got = {(row[ROUTE_COLUMN], str(row["httpStatus"])): row["failures"] for row in rows}
    assert all(truth[key] == n for key, n in got.items()), (got, truth.most_common(10))
    assert sorted(got.values(), reverse=True) == [n for _, n in truth.most_common(10)]


@pytest.mark.parametrize(("name", "kind"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_recent_failures_are_the_latest_failed_requests_with_their_cause(name, kind):
    rows, requests, fmt = _run(name, kind, "recent_failures")
    latest = sorted((r for r in requests if r.status >= 400), key=lambda r: r.timestamp_ms)[-20:]
    by_id = {r.request_id: r for r in latest}
    # THEN the 20 latest failed requests, each with its status and route
    assert len(rows) == 20 and set(by_id) == {row["request"] for row in rows}
    for row in rows:
        r = by_id[row["request"]]
        assert (str(row["httpStatus"]), row[ROUTE_COLUMN]) == (str(r.status), _route(r, fmt))
        if fmt is AccessLogFormat.JSON:  # AND, from JSON, the cause API Gateway logged
            assert row["errorType"] == (r.error_response_type or "-")
            assert row["failureMessage"] == (r.error_message or "-")


def test_every_spelling_in_the_queries_is_read_by_the_parser_as_its_field():
    resolver = FieldResolver(FIELD_MAP)
    for column, name in JSON_COLUMNS.items():
        spellings = field_spellings(name, FIELD_MAP)
        assert spellings and all(resolver.resolve(s)[3] == name for s in spellings), (name, spellings)  # type: ignore[index]
        assert resolver.resolve(column) is None  # a column is named like no key, so it shadows none


def test_the_access_log_format_is_a_per_api_setting_that_reaches_the_dashboard():
    raw = example_config()
    raw["apis"][1]["accessLogFormat"] = "clf"
    template = template_of(build_stack(raw))
    bodies = {
        b["Properties"]["DashboardName"]: json.dumps(b["Properties"]["DashboardBody"])
        for b in resources(template, "AWS::CloudWatch::Dashboard").values()
    }
    assert "parse @message" in bodies["Gatewatch-users"] and "coalesce(" not in bodies["Gatewatch-users"]
    assert "coalesce(" in bodies["Gatewatch-orders"] and "parse @message" not in bodies["Gatewatch-orders"]


def test_an_unknown_access_log_format_is_a_config_error():
    raw = example_config()
    raw["apis"][0]["accessLogFormat"] = "yaml"
    with pytest.raises(GatewatchConfigError, match=r"gatewatch.apis\[0\].accessLogFormat must be one of json, clf"):
        parse_config(raw)
