"""Secrets never leave the engine: evidence, rejection samples and Slack text pass through redact_secrets."""

import time

import pytest

from gatewatch.redact import redact_secrets, short_sample
from tests.secret_formats import SECRET_FORMATS, leaked, placements

CUT = 80  # where a sample is cut before it is redacted


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
        ("X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024", "fe5f80f77d5fa3be"),
    ],
)
def test_credentials_are_replaced_but_the_context_stays(text, secret):
    out = redact_secrets(text)
    assert secret not in out and "[REDACTED]" in out


@pytest.mark.parametrize("name", sorted(SECRET_FORMATS))
def test_every_format_is_redacted_wherever_it_sits(name):
    secret, core = SECRET_FORMATS[name]
    for where, text in placements(secret, CUT):
        # GIVEN the secret placed in a text, WHEN the text is cut to a sample's length and redacted
        # THEN nothing of the secret's core survives
        assert not leaked(redact_secrets(text[:CUT]), core), where
        assert not leaked(redact_secrets(text), core), where


@pytest.mark.parametrize(
    "text",
    [
        "Execution failed due to configuration error: Malformed Lambda proxy response",
        "basic settings changed; tokenizer: bert; the bearer of bad news",
        "eyJustAWord and a base64 eyJhbGciOiJIUzI1NiJ9 alone",
        "Basic auth failed for user alice",
    ],
)
def test_plain_text_that_only_resembles_a_keyword_is_left_alone(text):
    assert redact_secrets(text) == text


def test_plain_error_messages_are_returned_as_they_are():
    msg = "Execution failed due to configuration error: Malformed Lambda proxy response"
    assert redact_secrets(msg) is msg


def test_quoted_values_keep_their_quotes_and_the_key_stays_for_context():
    assert redact_secrets('{"password": "a b c", "user": "alice"}') == '{"password": "[REDACTED]", "user": "alice"}'
    assert redact_secrets("Cookie: session=abc; theme=dark") == "Cookie: [REDACTED]"


def test_short_sample_is_printable_bounded_and_redacted():
    sample = short_sample("Authorization: Bearer abcdefghijklmnop\x00\x1b[31m" + "x" * 1000, 80)
    assert len(sample) <= 80 and "\x00" not in sample and "\x1b" not in sample and "abcdefghijklmnop" not in sample
    assert short_sample(b"\xff\xfe binary", 20).startswith("\ufffd")
    assert short_sample("lone \ud800 surrogate") == "lone ? surrogate"


#: Texts built to make a backtracking pattern go quadratic: keywords and prefixes that start a match and
#: then fail late, repeated; long runs after a keyword; a quote that never closes.
HOSTILE_UNITS = {
    "plain": "a",
    "token= prefixes": "token=",
    "keywords without a separator": "password",
    "keyword then spaces": "password" + " " * 50,
    "bearer with short values": "Bearer a ",
    "basic non-credentials": "basic ",
    "authorization headers": "Authorization: ",
    "cookie headers": "cookie: a",
    "unclosed quoted value": '"password":"x',
    "jwt prefixes": "eyJ",
    "jwt-like runs": "eyJaaaaaaaaaaaa.",
    "aws prefixes": "AKIA",
    "slack prefixes": "xoxb-",
    "github prefixes": "ghp_",
    "stripe prefixes": "sk_live_",
    "webhook hosts": "hooks.slack.com/",
    "everything at once": "token= eyJa.b AKIA Bearer  basic xoxb- ",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_UNITS))
def test_a_100kb_hostile_text_is_redacted_in_linear_time(name):
    unit = HOSTILE_UNITS[name]

    def cost(n: int) -> float:
        text = unit * (n // len(unit))
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            redact_secrets(text)
            best = min(best, time.perf_counter() - started)
        return best

    small, big = cost(10_000), cost(100_000)
    # ten times the text: about ten times the time (a quadratic pattern would take a hundred times)
    assert big < max(small, 1e-3) * 30 and big < 0.5
