"""GATEWATCH_APIS / --apis: friendly names, timeouts and log groups, with clear messages for mistakes."""

import json

import pytest

from gatewatch.config import ApiSettings, ConfigError, api_settings_entry, load_engine_config, parse_api_settings
from gatewatch.models import LogBatch, LogEvent
from gatewatch.pipeline import LogAnalyzer


def test_object_and_list_shapes_are_equivalent():
    a = load_engine_config('{"a1b2c3": {"name": "orders", "integrationTimeoutMs": 60000}}')
    b = load_engine_config('[{"apiId": "a1b2c3", "name": "orders", "integrationTimeoutMs": 60000}]')
    assert a.apis == b.apis and a.for_api("a1b2c3").integration_timeout_ms == 60000
    assert a.for_api("other").integration_timeout_ms == 29000 and a.display_name("a1b2c3") == "orders"


@pytest.mark.parametrize(
    "raw,message",
    [
        ("{not json", "GATEWATCH_APIS is not valid JSON"),
        ('"orders"', "must be a JSON object keyed by API id"),
        ('[{"name": "x"}]', "needs an 'apiId'"),
        ('{"a": {"integrationTimeoutMs": -5}}', "integrationTimeoutMs must be a positive number"),
        ('{"a": {"slowMs": "fast"}}', "slowMs must be a positive number"),
        ('{"a": 3}', "must be an object"),
    ],
)
def test_mistakes_get_a_message_that_names_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        load_engine_config(raw)


def test_field_map_must_map_strings_to_strings():
    with pytest.raises(ConfigError, match="GATEWATCH_FIELD_MAP"):
        load_engine_config(None, '{"a": 1}')


def test_access_lines_without_api_fields_are_attributed_by_their_log_group():
    # GIVEN an access log whose format has no apiId/stage, and a config naming its log group
    config = load_engine_config(
        '{"a1b2c3": {"name": "orders", "stage": "prod", "accessLogGroup": "/aws/apigw/orders"}}'
    )
    line = '{"requestId":"r1","httpMethod":"GET","resourcePath":"/x","status":"502"}'
    analyzer = LogAnalyzer(config)
    analyzer.add_batch(LogBatch((LogEvent(line, 1, "1"),), log_group="/aws/apigw/orders"))
    (req,) = analyzer.finish(drain_incomplete=True).access
    # THEN the request belongs to that API and stage, under its friendly name
    assert (req.api_id, req.stage, req.api_name) == ("a1b2c3", "prod", "orders")


def test_the_stack_writes_gatewatch_apis_in_the_schema_the_lambda_reads():
    # GIVEN the settings of a watched API as the stack holds them (some values at their defaults)
    written = [
        ApiSettings(
            api_id="a1b2c3d4e5",
            name="orders",
            stage="prod",
            access_log_group="/aws/apigateway/orders",
            integration_timeout_ms=50_000,
            slow_ms=800,
            route_cap=40,
        ),
        ApiSettings(api_id="f6g7h8i9j0", stage="$default"),
    ]
    # WHEN the stack encodes them (JSON, as in the Lambda's environment) and the Lambda reads them back
    read = parse_api_settings(json.loads(json.dumps([api_settings_entry(s) for s in written])))
    # THEN the Lambda sees exactly what the stack meant, and the timeout is always written
    assert list(read.values()) == written
    assert api_settings_entry(written[1]) == {
        "apiId": "f6g7h8i9j0",
        "stage": "$default",
        "integrationTimeoutMs": 29_000,
    }
