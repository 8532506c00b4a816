"""Secrets never leave the engine: evidence, rejection samples and Slack text pass through redact_secrets."""

import time

import pytest

from gatewatch.redact import redact_secrets, short_sample


@pytest.mark.parametrize(
    "text,secret",
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl", "eyJhbGciOiJIUzI1NiJ9"),
        ("headers {Authorization=AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101}", "AKIAIOSFODNN7EXAMPLE"),
        ("x-api-key=3Xz9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0L", "3Xz9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0L"),
        ('{"password": "hunter2hunter2"}', "hunter2hunter2"),
        ("token=abc.def.ghi123", "abc.def.ghi123"),
        ("see https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX", "hooks.slack.com/services"),
        ("xoxb-123456789012-abcdefghijkl", "xoxb-123456789012"),
    ],
)
def test_credentials_are_replaced_but_the_context_stays(text, secret):
    out = redact_secrets(text)
    assert secret not in out and "[REDACTED]" in out


def test_plain_error_messages_are_left_alone():
    msg = "Execution failed due to configuration error: Malformed Lambda proxy response"
    assert redact_secrets(msg) is msg


def test_short_sample_is_printable_bounded_and_redacted():
    sample = short_sample("Authorization: Bearer abcdefghijklmnop\x00\x1b[31m" + "x" * 1000, 80)
    assert len(sample) <= 80 and "\x00" not in sample and "\x1b" not in sample and "abcdefghijklmnop" not in sample
    assert short_sample(b"\xff\xfe binary", 20).startswith("\ufffd")


def test_a_100kb_hostile_text_is_redacted_in_linear_time():
    def cost(n):
        text = ("token=" + "a" * 50 + " ") * (n // 60) + "Authorization: " * (n // 30)
        t = time.perf_counter()
        redact_secrets(text)
        return time.perf_counter() - t

    small, big = cost(10_000), cost(100_000)
    assert big < max(small, 1e-4) * 40 and big < 0.5
