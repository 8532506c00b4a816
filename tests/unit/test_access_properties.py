"""Property tests: the access-log parser never raises, always types its fields, and stays linear."""

from __future__ import annotations

import dataclasses
import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewatch.models import AccessRecord, Rejection
from gatewatch.parse.access import parse_access_line
from tests.helpers import corpus_access

REAL_LINES = tuple(record["raw"] for record in corpus_access())
INT_FIELDS = {
    "status",
    "response_length",
    "integration_status",
    "integration_service_status",
    "authorizer_status",
    "request_time_epoch_ms",
    "timestamp",
}
FLOAT_FIELDS = {"integration_latency_ms", "response_latency_ms", "authorizer_latency_ms"}
BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_well_formed(result: object) -> None:
    """What every caller relies on: a record with typed fields, or a rejection with a reason."""
    if isinstance(result, Rejection):
        assert result.source == "access" and result.reason
        assert len(result.sample) <= 80
        return
    assert isinstance(result, AccessRecord)
    assert result.format in ("json", "clf", "csv", "xml")
    assert isinstance(result.fields_present, frozenset)
    for f in dataclasses.fields(AccessRecord):
        value = getattr(result, f.name)
        if f.name in INT_FIELDS:
            assert value is None or type(value) is int, f.name
        elif f.name in FLOAT_FIELDS:
            assert value is None or (type(value) is float and value - value == 0.0), f.name
        elif f.name not in ("recovered", "fields_present", "suspicious"):
            assert value is None or (type(value) is str and value not in ("-", "")), f.name
    assert result.status is not None or result.request_id is not None or result.extended_request_id is not None


@BOUNDED
@given(st.text(max_size=400))
def test_random_text_never_raises(text):
    assert_well_formed(parse_access_line(text))


@BOUNDED
@given(st.binary(max_size=400), st.sampled_from(["utf-8", "latin-1"]))
def test_random_bytes_decoded_as_text_never_raise(data, encoding):
    assert_well_formed(parse_access_line(data.decode(encoding, errors="replace")))


KEYS = st.one_of(
    st.sampled_from(
        [
            "requestId",
            "status",
            "error.message",
            "integration.status",
            "integrationStatus",
            "responseLatency",
            "integration_latency",
            "requestTimeEpoch",
            "ip",
            "routeKey",
            "$context.stage",
            "error",
            "integration",
            "identity",
            "caller",
        ]
    ),
    st.text(max_size=12),
)
SCALARS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["-", "", "200", "502", "12.5", "NaN", "1e999"]),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.booleans(),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(KEYS, children, max_size=4)),
    max_leaves=12,
)


@BOUNDED
@given(st.dictionaries(KEYS, JSON_VALUES, max_size=12))
def test_json_objects_with_random_keys_and_values_never_raise(obj):
    line = json.dumps(obj)  # big integers, NaN and Infinity too: invalid for orjson, so the repair path runs
    assert_well_formed(parse_access_line(line))


@BOUNDED
@given(st.sampled_from(REAL_LINES), st.data())
def test_real_lines_with_random_cuts_and_insertions_never_raise(line, data):
    start = data.draw(st.integers(0, len(line)))
    end = data.draw(st.integers(start, len(line)))
    insert = data.draw(st.sampled_from(['"', "{", "}", ",", ":", "\\", "-", "\x00", '","x":"', "[", "]", "<a>", ""]))
    mutated = line[:start] + insert + line[end:]
    assert_well_formed(parse_access_line(mutated))
    assert_well_formed(parse_access_line(line[:start]))


@BOUNDED
@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
    | st.lists(st.sampled_from(['"', ",", ":", "{", "}", "\\", "-", " ", "x", '","k":"']), max_size=12).map("".join)
)
def test_an_unescaped_error_message_never_costs_the_status_or_the_request_id(message):
    # GIVEN a JSON access line whose error message is written verbatim (API Gateway does not escape it)
    line = (
        '{"requestId":"r-1","status":"502","errorMessage":"'
        + message
        + '","integrationLatency":"120","ip":"192.0.2.1"}'
    )
    result = parse_access_line(line)
    # THEN the request id and status survive whatever the message holds
    assert_well_formed(result)
    assert isinstance(result, AccessRecord)
    assert (result.request_id, result.status) == ("r-1", 502)


def _best_of(line: str, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        assert_well_formed(parse_access_line(line))
        best = min(best, time.perf_counter() - started)
    return best


ADVERSARIAL = {
    "escaped quotes": lambda n: '{"a":"' + '\\"' * (n // 2),
    "quotes": lambda n: '"' * n,
    "open braces": lambda n: "{" * n,
    "clf prefix then spaces": lambda n: '1.2.3.4 - - [26/Nov/2025:09:14:03 +0000] "GET / HTTP/1.1" 200 ' + " " * n,
    "many keys": lambda n: "{" + '"k":"v",' * (n // 8),
    "key-like text in a value": lambda n: '{"requestId":"r","errorMessage":"' + '","x":"' * (n // 7),
    "commas": lambda n: "," * n,
    "xml openers": lambda n: "<request>" + "<a>" * (n // 3),
    "brackets": lambda n: "[" * n,
    "spaces then key": lambda n: '{"a":' + " " * n + '"b","status":"200"',
}


def test_adversarial_100kb_lines_parse_in_linear_time():
    for name, build in ADVERSARIAL.items():
        small, large = build(10_000), build(100_000)
        t_small, t_large = _best_of(small), _best_of(large)
        # 10x the input may cost ~10x the time; 40x plus slack catches anything quadratic (100x)
        assert t_large < 40 * t_small + 0.05, (name, t_small, t_large)


def test_a_one_megabyte_line_is_handled():
    line = '{"requestId":"r","status":"200","errorMessage":"' + 'x"y' * 350_000 + '"}'
    result = parse_access_line(line)
    assert isinstance(result, AccessRecord) and result.status == 200 and result.recovered
