"""What CloudWatch makes of many invocations' EMF: true percentiles, one datapoint per minute.

CloudWatch adds up what every invocation published for a minute and computes percentiles over all the
values it received. These tests run the public handler once per delivery, collect everything it
printed, and compute the minute's statistics as CloudWatch does (gatewatch_demo.metrics.MetricStore:
every value of every document with exactly these dimensions), against the truth of the lines sent.
"""

from __future__ import annotations

import math
import random
import sys
import time

import pytest

from analyzer import handler
from gatewatch_demo.lambda_context import LocalLambdaContext
from gatewatch_demo.metrics import MetricStore, statistic_of
from tests.emf_spec import assert_valid_emf, emf_documents
from tests.functional.test_analyzer_handler import ENV_TO_CLEAR
from tests.helpers import subscription_event, subscription_payload

ACCESS_GROUP = "/aws/apigateway/orders-prod-access"
MINUTE_START = 1764075600000  # every delivery of a mix lands in this minute
STAGE = {"Api": "a1b2c3d4e5", "Stage": "prod"}


@pytest.fixture(autouse=True)
def fresh_handler(monkeypatch, capsys):
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    handler.reset_state()
    handler.clock = lambda: (MINUTE_START + 5 * 60_000) / 1000  # delivered five minutes later
    stream = handler.logger.registered_handler.stream
    yield
    handler.logger.registered_handler.stream = stream
    handler.clock = time.time
    handler.reset_state()


def access_line(i: int, latency_ms: int, route: str = "/orders/{id}") -> str:
    integration = max(0, latency_ms - 12)
    return (
        f'{{"requestId":"6f1c8a2e-0000-4000-8000-{i:012d}","apiId":"a1b2c3d4e5","stage":"prod",'
        f'"httpMethod":"GET","resourcePath":"{route}","status":"200","responseLatency":"{latency_ms}",'
        f'"integrationLatency":"{integration}","integrationError":"-","error.responseType":"-"}}'
    )


def publish(deliveries: list[list[int]], capsys, *, timestamps: list[list[int]] | None = None) -> MetricStore:
    """One handler invocation per delivery (a list of latencies); everything printed goes to the store."""
    store = MetricStore()
    handler.logger.registered_handler.stream = sys.stdout
    n = 0
    for k, latencies in enumerate(deliveries):
        lines = [access_line(n + i, ms) for i, ms in enumerate(latencies)]
        times = timestamps[k] if timestamps else [MINUTE_START + 1000 + (n + i) % 50_000 for i in range(len(lines))]
        n += len(lines)
        handler.lambda_handler(
            subscription_event(subscription_payload(ACCESS_GROUP, lines, timestamps=times)), LocalLambdaContext()
        )
        for doc in assert_valid_emf(emf_documents(capsys.readouterr().out)):
            store.add_emf(doc)
    return store


def healthy(rng: random.Random, n: int) -> list[int]:
    return [round(rng.lognormvariate(math.log(110), 0.25)) for _ in range(n)]


def slow(rng: random.Random, n: int) -> list[int]:
    return [round(rng.uniform(3_000, 5_500)) for _ in range(n)]


def burst_with_slow_tail(rng: random.Random) -> list[list[int]]:
    """The incident the old scheme hid: a 2,000-request batch, 15 % slow, and 40 small healthy batches."""
    big = healthy(rng, 1_700) + slow(rng, 300)
    rng.shuffle(big)
    return [big] + [healthy(rng, 5) for _ in range(40)]


def healthy_burst_slow_trickle(rng: random.Random) -> list[list[int]]:
    """The false alarm the old scheme raised: a healthy 2,000-request batch and 40 small slow batches."""
    return [healthy(rng, 2_000)] + [slow(rng, 5) for _ in range(40)]


def batches_of_every_size(rng: random.Random) -> list[list[int]]:
    """Sizes from 1 to 1,500, each batch from its own regime (healthy, slow, or a mix)."""
    out = []
    for size in (1, 3, 7, 40, 150, 600, 1_500, 2, 90, 333):
        regime = rng.choice((healthy, slow, lambda r, n: healthy(r, n - n // 4) + slow(r, n // 4)))
        out.append(regime(rng, size))
    return out


def same_distribution(rng: random.Random) -> list[list[int]]:
    """Control: every batch from the same distribution (any scheme gets this one right)."""
    return [healthy(rng, n) for n in (2_000, 5, 5, 300, 40, 5, 900)]


@pytest.mark.parametrize(
    "mix", [burst_with_slow_tail, healthy_burst_slow_trickle, batches_of_every_size, same_distribution]
)
def test_cloudwatch_percentiles_over_many_invocations_are_the_true_ones(mix, capsys):
    # GIVEN one minute of traffic delivered in batches of very different sizes
    deliveries = mix(random.Random(7))
    truth = [ms for batch in deliveries for ms in batch]
    # WHEN every batch is one invocation of the analyzer
    store = publish(deliveries, capsys)
    # THEN the minute's p50/p90/p99, computed by CloudWatch over everything published, are within 2 % of truth
    for stat in ("p50", "p90", "p99"):
        got = store.stat("Gatewatch", "Latency", STAGE, MINUTE_START, 60, stat)
        want = statistic_of([float(v) for v in truth], stat)
        assert got is not None and want is not None
        assert abs(got - want) <= 0.02 * want, (mix.__name__, stat, got, want)
    # AND the sample count is the request count (each request weighs one value, whatever its batch)
    assert store.stat("Gatewatch", "Latency", STAGE, MINUTE_START, 60, "SampleCount") == len(truth)
    assert store.stat("Gatewatch", "Requests", STAGE, MINUTE_START, 60, "Sum") == len(truth)


def test_the_incident_shows_in_p90_and_the_trickle_does_not_raise_it(capsys):
    # GIVEN the two mixes of the issue WHEN published THEN the burst's p90 is slow and the trickle's is not
    incident = publish(burst_with_slow_tail(random.Random(1)), capsys)
    assert incident.stat("Gatewatch", "Latency", STAGE, MINUTE_START, 60, "p90") >= 3_000
    handler.reset_state()
    trickle = publish(healthy_burst_slow_trickle(random.Random(1)), capsys)
    assert trickle.stat("Gatewatch", "Latency", STAGE, MINUTE_START, 60, "p90") < 500


def test_a_delivery_spanning_three_minutes_gives_three_datapoints_with_their_own_counts(capsys):
    # GIVEN one delivery (a backlog) holding 7 requests of minute 0, 3 of minute 1 and 5 of minute 2
    minutes = [0] * 7 + [1] * 3 + [2] * 5
    times = [MINUTE_START + m * 60_000 + 500 * i for i, m in enumerate(minutes)]
    latencies = [100 + 1000 * m for m in minutes]
    # WHEN the handler analyses it
    store = publish([latencies], capsys, timestamps=[times])
    # THEN CloudWatch sees three minutes, each with its own requests and latencies
    assert [store.stat("Gatewatch", "Requests", STAGE, MINUTE_START + m * 60_000, 60, "Sum") for m in range(4)] == [
        7.0,
        3.0,
        5.0,
        None,
    ]
    assert [store.stat("Gatewatch", "Latency", STAGE, MINUTE_START + m * 60_000, 60, "Maximum") for m in range(3)] == [
        100.0,
        1100.0,
        2100.0,
    ]


def test_a_delivery_older_than_cloudwatch_accepts_is_counted_not_published_at_the_wrong_time(capsys):
    # GIVEN a Kinesis backlog replayed 15 days late
    handler.clock = lambda: (MINUTE_START + 15 * 86_400_000) / 1000
    store = publish([healthy(random.Random(3), 25)], capsys)
    # THEN no request is published (not in its minute, which CloudWatch refuses, nor now, which is wrong)
    assert store.dimension_values("Gatewatch", "Requests", "Stage", Api="a1b2c3d4e5") == set()
    # AND the 25 are counted under Source=out-of-window, where the health dashboard shows them
    late = store.values("Gatewatch", "LinesUnparsed", {"Source": "out-of-window"}, 0, 2**62)
    assert late == [25.0]
