"""Decoding never raises, rejects with a reason, and stays linear on adversarial input (hypothesis, bounded)."""

from __future__ import annotations

import base64
import gzip
import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewatch.ingest.lambda_events import batches_from_lambda_event, decode_subscription_data
from gatewatch.ingest.rejections import Reason
from gatewatch.models import LogBatch, Rejection
from gatewatch_cli.inputs import iter_input_batches
from tests.helpers import encode_payload, s01_payloads, subscription_payload

BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KNOWN_REASONS = {v for k, v in vars(Reason).items() if k.isupper()}
PAYLOAD_BYTES = json.dumps(s01_payloads()[0]).encode()


def _check(items) -> list:
    """Every item is a batch or a rejection with a known, non-empty reason and a short sample."""
    items = list(items)
    for item in items:
        assert isinstance(item, (LogBatch, Rejection))
        if isinstance(item, Rejection):
            assert item.reason and item.reason in KNOWN_REASONS
            assert item.source == "input"
            assert len(item.sample) <= 80
    return items


@BOUNDED
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(data):
    _check(iter_input_batches(data, name="fuzz"))
    _check(decode_subscription_data(data))
    _check(decode_subscription_data(base64.b64encode(data)))
    _check(item for _, item in batches_from_lambda_event({"awslogs": {"data": base64.b64encode(data).decode()}}))


@BOUNDED
@given(st.text(max_size=512))
def test_random_text_as_subscription_data_is_rejected_or_decoded(text):
    items = _check(decode_subscription_data(text))
    # Nothing random is a valid gzip'ed CloudWatch payload: it is rejected, with a reason
    assert len(items) == 1 and isinstance(items[0], Rejection)


@BOUNDED
@given(st.text(alphabet="!#$%&*()-_.,;:?@[]{}<>~ \u00e9\u4e2d", min_size=1, max_size=300))
def test_bad_base64_is_rejected_as_invalid_base64(text):
    [rejection] = _check(decode_subscription_data(text))
    assert rejection.reason == Reason.INVALID_BASE64


@BOUNDED
@given(st.integers(min_value=0, max_value=len(gzip.compress(PAYLOAD_BYTES)) - 1))
def test_truncated_gzip_is_rejected_never_half_read(cut):
    data = base64.b64encode(gzip.compress(PAYLOAD_BYTES)[:cut]).decode()
    items = _check(decode_subscription_data(data))
    assert len(items) == 1 and isinstance(items[0], Rejection)
    assert items[0].reason in {Reason.TRUNCATED, Reason.CORRUPT, Reason.NOT_COMPRESSED, Reason.MISSING_DATA}


@BOUNDED
@given(st.integers(min_value=1, max_value=3000), st.sampled_from(["[", '{"a":', "{", '[{"a":[', '"', "}{", "]["]))
def test_deeply_nested_or_unbalanced_json_never_raises(depth, unit):
    text = (unit * depth).encode()
    _check(iter_input_batches(text))
    _check(iter_input_batches(gzip.compress(text)))
    _check(decode_subscription_data(base64.b64encode(gzip.compress(text))))


@BOUNDED
@given(
    st.one_of(st.integers(min_value=1, max_value=1100), st.integers(min_value=990, max_value=1030)),
    st.sampled_from([("[", "]"), ('{"a":', "}"), ('[{"records":', "}]")]),
)
def test_deeply_nested_balanced_json_never_raises(depth, pair):
    opener, closer = pair
    text = (opener * depth + "1" + closer * depth).encode()
    for data in (text, text + b"\n" + text, b'{"logEvents": []}' + text):
        items = _check(iter_input_batches(data))
        assert not any(isinstance(i, Rejection) and i.reason == Reason.INTERNAL_ERROR for i in items)
    _check(decode_subscription_data(base64.b64encode(gzip.compress(text))))


_PIECES = st.sampled_from(
    [
        PAYLOAD_BYTES,
        b"}{",
        b"\n",
        b"{",
        b"}",
        b"[",
        b"]",
        b'"',
        b"\\",
        b'{"logEvents": [',
        b"garbage",
        b'{"messageType": "CONTROL_MESSAGE"}',
        json.dumps({"awslogs": {"data": encode_payload(s01_payloads()[1])}}).encode(),
        b"\x00\xff",
        b"@timestamp,@message\n",
        "é".encode(),
    ]
)


@BOUNDED
@given(st.lists(_PIECES, max_size=12), st.booleans())
def test_random_mixes_of_documents_and_junk_never_raise(pieces, compress):
    data = b"".join(pieces)
    if compress:
        data = gzip.compress(data)
    items = _check(iter_input_batches(data, name="mix"))
    _check(decode_subscription_data(base64.b64encode(data if compress else gzip.compress(data))))
    if pieces and all(p == PAYLOAD_BYTES for p in pieces):
        # Only glued real payloads: every one of them is read
        assert len(items) == len(pieces) and all(isinstance(i, LogBatch) for i in items)


@settings(max_examples=5, deadline=None)
@given(st.sampled_from(["x", "é", '"', "{", "}{"]))
def test_one_megabyte_lines_survive_intact(unit):
    line = unit * (1024 * 1024 // len(unit.encode()))
    [batch] = _check(decode_subscription_data(encode_payload(subscription_payload("g", [line, "next"]))))
    assert [e.message for e in batch.events] == [line, "next"]
    [text_batch] = _check(iter_input_batches((line + "\nnext\n").encode()))
    assert [e.message for e in text_batch.events] == [line, "next"]


def _adversarial(size: int) -> list[bytes]:
    """Inputs that make naive splitters, regexes or retry loops quadratic."""
    return [
        (b'{"a":"' + b"}{" * size)[:size],  # unterminated string full of boundaries
        (b'{"messageType":"DATA_MESSAGE","logEvents":[{"message":"' + b'}{\\"' * size)[:size] + b'"}]}',
        (b"[" * size)[:size],
        (b'"\\"' * size)[:size],
        (b"}\n{" * size)[:size],
        (b'{"logEvents":[]}' + b' {"a":{' * size)[:size],
        b"\n".join([b'{"logEvents":[' + b"}{" * 40 + b"]}"] * (size // 90)),
        (b"\x1f\x8b" + b"\x00" * size)[:size],
        (b"@timestamp,@message\n" + b'"' * size)[:size],
        (b"(4f3e " + b"x" * size)[:size],
    ]


def _elapsed(data: bytes) -> float:
    start = time.perf_counter()
    _check(iter_input_batches(data))
    _check(iter_input_batches(gzip.compress(data)))
    _check(decode_subscription_data(base64.b64encode(gzip.compress(data))))
    return time.perf_counter() - start


def test_adversarial_100kb_inputs_take_linear_time():
    # GIVEN inputs built to trigger quadratic behaviour, at 10 KB and at 100 KB
    for small, large in zip(_adversarial(10_000), _adversarial(100_000), strict=False):
        t_small = min(_elapsed(small) for _ in range(3))
        t_large = min(_elapsed(large) for _ in range(2))
        # THEN 10x the input costs about 10x the time (quadratic would be ~100x); generous bound
        assert t_large < 40 * t_small + 0.05, (large[:40], t_small, t_large)
