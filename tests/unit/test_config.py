"""GATEWATCH_APIS / --apis: friendly names, timeouts and log groups, with clear messages for mistakes."""

import pytest

from gatewatch.config import ConfigError, load_engine_config
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
