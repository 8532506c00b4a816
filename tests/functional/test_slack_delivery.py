"""Delivery over real HTTP to a loopback Slack: retries, Retry-After, pacing, permanent failures, secrecy.

The client and the stub share a FakeClock: every wait the client makes (Retry-After, backoff, pacing)
advances it instead of sleeping, and the stub stamps arrivals with it, so the gaps Slack would see are
asserted without spending them. Only socket timeouts (a hang) take real time.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time

import pytest

from gatewatch.adapters import http_deadline
from gatewatch.adapters.slack_client import DeliveryError, RetryPolicy, SlackClient
from tests.functional.slack_stub import (
    WEBHOOK_PATH,
    FakeClock,
    SlackStub,
    api_error,
    drip,
    gone,
    hang,
    no_service,
    rate_limited,
    server_error,
)

FAST = RetryPolicy(
    max_attempts=4, base_delay_s=0.05, max_delay_s=0.2, timeout_s=0.5, min_interval_s=1.0, safety_margin_s=0.5
)
PAYLOAD = {"text": "CRITICAL: 3 requests failed with MALFORMED_RESPONSE", "blocks": []}
SECRET_PART = WEBHOOK_PATH.rsplit("/", 1)[-1]
BOT_TOKEN = "xoxb-111-222-gatewatchSECRETtoken"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def slack(clock):
    with SlackStub(clock=clock.monotonic) as stub:
        yield stub


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog, capsys):
    """Every test: neither the webhook URL nor the bot token may appear in any captured output."""
    caplog.set_level(logging.DEBUG)
    yield
    out, err = capsys.readouterr()
    captured = caplog.text + out + err + "".join(str(r.__dict__) for r in caplog.records)
    assert SECRET_PART not in captured
    assert "127.0.0.1:" not in captured
    assert BOT_TOKEN not in captured


def client(clock: FakeClock, **kw) -> SlackClient:
    return SlackClient(kw.pop("policy", FAST), clock=clock.monotonic, sleep=clock.sleep, **kw)


def test_a_message_slack_accepts_is_posted_exactly_once(slack, clock):
    # GIVEN a healthy webhook WHEN one message is posted
    client(clock).post_webhook(slack.webhook_url, PAYLOAD)
    # THEN Slack received exactly that body, once
    assert [r.json for r in slack.requests] == [PAYLOAD]
    assert slack.requests[0].headers["content-type"].startswith("application/json")


def test_429_waits_for_retry_after_then_delivers_once(slack, clock):
    # GIVEN Slack rate-limits the first post for 1 s
    slack.script(rate_limited(retry_after=1))
    # WHEN the message is posted
    client(clock).post_webhook(slack.webhook_url, PAYLOAD)
    # THEN it was retried exactly once, no earlier than Retry-After, and delivered once
    first, second = slack.requests
    assert second.at - first.at >= 1.0 and clock.sleeps == [1.0]
    assert second.json == PAYLOAD and len(slack.requests) == 2


def test_429_retry_after_beyond_the_remaining_lambda_time_fails_without_waiting(slack, clock):
    # GIVEN 2 s of Lambda time left and Slack asks to wait 30 s
    slack.script(rate_limited(retry_after=30))
    # WHEN the message is posted THEN it fails at once (not permanent: Lambda retries, then the DLQ)
    with pytest.raises(DeliveryError) as caught:
        client(clock, remaining_s=lambda: 2.0).post_webhook(slack.webhook_url, PAYLOAD)
    assert not caught.value.permanent and caught.value.status == 429
    assert clock.sleeps == []
    assert len(slack.requests) == 1


def test_5xx_is_retried_with_backoff_until_it_succeeds(slack, clock, caplog):
    # GIVEN two server errors before success
    slack.script(server_error(), server_error())
    # WHEN posted (full jitter: the random draw is 1.0, so each sleep is the backoff ceiling)
    client(clock, rand=lambda: 1.0).post_webhook(slack.webhook_url, PAYLOAD)
    # THEN exactly three requests; backoff ceilings 0.05 then 0.1, each topped up by pacing to 1 s between sends
    assert len(slack.requests) == 3
    assert clock.sleeps == pytest.approx([0.05, 0.95, 0.1, 0.9])
    assert all(b.at - a.at >= 1.0 for a, b in itertools.pairwise(slack.requests))
    assert "retrying" in caplog.text


def test_full_jitter_draws_between_zero_and_the_exponential_ceiling():
    # GIVEN a random draw of 0.5 WHEN backing off on attempts 1..5 THEN half of min(cap, base*2^(n-1))
    c = SlackClient(RetryPolicy(base_delay_s=0.5, max_delay_s=3.0), rand=lambda: 0.5)
    assert [c._backoff(n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 1.5, 1.5]


def test_persistent_5xx_gives_up_after_the_bounded_attempts_and_raises(slack, clock):
    slack.script(*[server_error()] * 10)
    with pytest.raises(DeliveryError) as caught:
        client(
            clock,
            policy=RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02, timeout_s=0.5, min_interval_s=0.0),
        ).post_webhook(slack.webhook_url, PAYLOAD)
    assert len(slack.requests) == 3
    assert not caught.value.permanent and caught.value.attempts == 3
    assert SECRET_PART not in str(caught.value) and "127.0.0.1" not in str(caught.value)


def test_a_hang_longer_than_the_timeout_is_retried_and_delivered(slack, clock):
    # GIVEN Slack hangs past the 0.5 s client timeout once (a real socket timeout: this one waits)
    slack.script(hang(1.5))
    client(
        clock, policy=RetryPolicy(max_attempts=3, base_delay_s=0.01, timeout_s=0.5, min_interval_s=0.0)
    ).post_webhook(slack.webhook_url, PAYLOAD)
    # THEN a second request carried the same message
    assert len(slack.requests) == 2 and slack.requests[1].json == PAYLOAD


@pytest.mark.parametrize(
    "answer, error, cause",
    [
        (no_service(), "no_service", "revoked"),
        (gone(), "channel_is_archived", "archived"),
    ],
)
def test_revoked_or_archived_webhook_is_permanent_with_a_clear_log_line(slack, clock, caplog, answer, error, cause):
    # GIVEN the webhook was revoked (404 no_service) or the channel archived (410)
    slack.script(answer)
    # WHEN posting THEN it fails after one request, permanently, naming the cause
    with pytest.raises(DeliveryError) as caught:
        client(clock).post_webhook(slack.webhook_url, PAYLOAD)
    assert len(slack.requests) == 1 and clock.sleeps == []
    assert caught.value.permanent and caught.value.error == error
    line = next(r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert error in line and cause in line


def test_messages_to_one_destination_are_paced_one_per_second(slack, clock):
    c = client(clock)
    for i in range(3):
        c.post_webhook(slack.webhook_url, {"text": f"message {i}"})
    arrivals = [r.at for r in slack.requests]
    assert [r.json["text"] for r in slack.requests] == ["message 0", "message 1", "message 2"]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(arrivals))


def test_web_api_sends_the_token_as_a_header_and_returns_slacks_answer(slack, clock):
    answer = client(clock, api_base=slack.api_base).call(BOT_TOKEN, "chat.postMessage", {"channel": "C1", "text": "hi"})
    assert answer["ok"] is True and answer["channel"] == "C1" and answer["ts"]
    (req,) = slack.calls("/chat.postMessage")
    assert req.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    assert BOT_TOKEN not in req.body.decode()


def test_web_api_error_codes_are_permanent_or_retried_by_meaning(slack, clock, caplog):
    c = client(clock, api_base=slack.api_base)
    # GIVEN a transient Web API error THEN it is retried
    slack.script(api_error("internal_error"))
    c.call(BOT_TOKEN, "chat.postMessage", {"channel": "C1", "text": "x"})
    assert len(slack.requests) == 2
    # GIVEN the bot is not in the channel THEN one request, permanent, with the fix in the log
    slack.script(api_error("not_in_channel"))
    with pytest.raises(DeliveryError) as caught:
        c.call(BOT_TOKEN, "chat.postMessage", {"channel": "C1", "text": "y"})
    assert caught.value.permanent and len(slack.requests) == 3
    assert "invite" in caplog.text and BOT_TOKEN not in str(caught.value)


def real_client(**kw) -> SlackClient:
    """A client on the real clock: for the deadline tests, which are about wall-clock time."""
    return SlackClient(kw.pop("policy", FAST), **kw)


def lambda_with(seconds: float):
    """A Lambda's remaining time, counting down from `seconds` in real time."""
    started = time.monotonic()
    return lambda: seconds - (time.monotonic() - started)


def test_a_slow_drip_answer_ends_at_the_delivery_deadline_with_a_retryable_error(slack):
    # GIVEN a Lambda with 2 s left, and a Slack that trickles its answer one byte every 0.3 s: no single
    # read waits anywhere near the production policy's 5 s per-request timeout
    slack.script(drip(0.3))
    remaining = lambda_with(2.0)
    started = time.monotonic()
    # WHEN a message is posted with the production policy
    with pytest.raises(DeliveryError) as caught:
        SlackClient(remaining_s=remaining).post_webhook(slack.webhook_url, PAYLOAD)
    elapsed = time.monotonic() - started
    # THEN it fails at the delivery deadline (2 s less the 0.5 s margin), before the Lambda would end,
    # not permanently (Lambda retries, then the dead-letter queue), after one request it had no time to repeat
    assert elapsed >= 1.4 and remaining() > 0
    assert not caught.value.permanent and caught.value.error == "TimeoutError"
    assert len(slack.requests) == 1


def test_each_request_ends_within_its_timeout_however_quickly_each_read_returns(slack):
    # GIVEN no Lambda deadline and a Slack that drips its answers (the whole answer would take ~15 s)
    slack.script(drip(0.2), drip(0.2))
    policy = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.01, timeout_s=0.5, min_interval_s=0.0)
    started = time.monotonic()
    # WHEN posting THEN each of the two attempts is cut at 0.5 s in all, and the delivery fails retryably
    with pytest.raises(DeliveryError) as caught:
        real_client(policy=policy).post_webhook(slack.webhook_url, PAYLOAD)
    assert time.monotonic() - started < 2.5
    assert len(slack.requests) == 2 and not caught.value.permanent


def test_pacing_that_would_pass_the_deadline_gives_up_instead_of_sleeping(slack):
    # GIVEN a message just sent to a destination paced at one per second, and 0.8 s of Lambda left
    c = real_client(remaining_s=lambda_with(10.0))
    c.post_webhook(slack.webhook_url, PAYLOAD)
    c.remaining_s = lambda_with(0.8)
    started = time.monotonic()
    # WHEN the next message is due THEN it fails at once (retryable) rather than sleeping past the deadline
    with pytest.raises(DeliveryError) as caught:
        c.post_webhook(slack.webhook_url, PAYLOAD)
    assert time.monotonic() - started < 0.5 and not caught.value.permanent
    assert len(slack.requests) == 1


def test_a_tls_handshake_that_never_completes_ends_at_the_deadline():
    # GIVEN a server that accepts TCP connections and never answers the TLS handshake
    with socket.create_server(("127.0.0.1", 0)) as server:
        url = f"https://127.0.0.1:{server.getsockname()[1]}/services/T/B/x"
        started = time.monotonic()
        # WHEN posting with 0.5 s in all THEN the handshake is cut at 0.5 s
        with pytest.raises(TimeoutError):
            http_deadline.post(url, b"{}", {"Content-Type": "application/json"}, 0.5)
        assert 0.45 <= time.monotonic() - started < 1.5


def test_a_host_name_is_resolved_and_the_message_posted(slack):
    # GIVEN the loopback Slack reached by name ("localhost" resolves through the system resolver)
    url = slack.webhook_url.replace("127.0.0.1", "localhost")
    # WHEN a message is posted to it
    answer = http_deadline.post(url, b'{"text": "x"}', {"Content-Type": "application/json"}, 5.0)
    # THEN Slack answers and got the message once
    assert answer.status == 200 and len(slack.requests) == 1


def test_a_resolver_that_hangs_ends_at_the_deadline(monkeypatch):
    # GIVEN a resolver that does not answer for a Slack host name (getaddrinfo cannot be interrupted)
    released = threading.Event()
    real_getaddrinfo = socket.getaddrinfo

    def hung_resolver(host, *args, **kwargs):
        if host == "hooks.slack.example":
            released.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hung_resolver)
    started = time.monotonic()
    try:
        # WHEN posting with 0.5 s in all
        with pytest.raises(TimeoutError, match="resolved"):
            http_deadline.post("https://hooks.slack.example/services/T/B/x", b"{}", {}, 0.5)
        # THEN the request ends at its deadline, not when the resolver gives up
        assert 0.45 <= time.monotonic() - started < 1.5
    finally:
        released.set()


def test_a_name_that_does_not_resolve_is_a_connection_error_the_client_retries(monkeypatch):
    # GIVEN a resolver that knows no such host
    def no_such_host(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    # WHEN posting THEN the resolver's own error reaches the caller (an OSError: retryable for the client)
    with pytest.raises(socket.gaierror):
        http_deadline.post("https://hooks.slack.example/services/T/B/x", b"{}", {}, 0.5)


@pytest.mark.parametrize(
    "payload, why",
    [
        ({"text": "x", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]}, "150"),
        ({"text": "x", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "😀" * 76}}]}, "UTF-16"),
        ({"text": "x", "blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}]}, "10 items"),
        ({"text": "x", "blocks": [{"type": "headline", "text": "?"}]}, "not a block"),
    ],
)
def test_the_stub_refuses_what_slack_refuses(slack, payload, why):
    # GIVEN a payload that is not valid Block Kit WHEN it is posted THEN the stub answers as Slack does
    with pytest.raises(DeliveryError) as caught:
        real_client().post_webhook(slack.webhook_url, payload)
    assert caught.value.permanent and caught.value.error == "invalid_blocks"
    assert why in " ".join(slack.refusals[0])
