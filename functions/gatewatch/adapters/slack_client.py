"""Deliver Slack messages over HTTP without losing one: retries, Retry-After, pacing, clear failures.

Why the standard library rather than slack_sdk: the rules here are specific — one deadline per
delivery, derived from the Lambda's remaining time less a margin and enforced across name resolution,
connect, send, read, pacing and retries (gatewatch.adapters.http_deadline: a Slack that trickles its
answer cannot outlive the Lambda); honour 429 Retry-After only within that deadline; retry connection errors and
5xx with full-jitter exponential backoff and a bounded number of attempts; pace to one message per
second per destination; treat 400/403/404/410 as permanent; never let a webhook URL or token reach a
log line or an exception. slack_sdk's retry handlers cover parts of that and would still need
wrapping.

When delivery finally fails, DeliveryError propagates to the handler, which raises so that Lambda
retries the event and the stack's dead-letter queue keeps it: an alert is never silently lost.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from gatewatch.adapters.http_deadline import HttpResponse, post
from gatewatch.adapters.secrets import BotSecret, WebhookSecret
from gatewatch.adapters.threads import ThreadRef, ThreadStore
from gatewatch.notify.slack_blocks import Lifecycle, SlackMessage, mark_resolved

logger = logging.getLogger("gatewatch.slack")

SLACK_API_BASE = "https://slack.com/api/"


class DeliveryError(RuntimeError):
    """A message could not be delivered. Never carries the URL or the token, only status and Slack's error code."""

    def __init__(
        self, message: str, *, permanent: bool, status: int | None = None, error: str | None = None, attempts: int = 0
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        self.error = error
        self.attempts = attempts

    @property
    def refused_content(self) -> bool:
        """Slack refused this message's format (blocks, attachments, length): the same message never
        goes through, but its text alone may."""
        return self.permanent and (self.error or "") in CONTENT_ERRORS


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on how hard to try. Defaults suit a notifier with a 60 s Lambda timeout."""

    max_attempts: int = 5  # total attempts per message, the first included
    base_delay_s: float = 0.5  # backoff: sleep uniform(0, min(max_delay, base * 2**(n-1)))
    max_delay_s: float = 8.0
    timeout_s: float = 5.0  # per HTTP request, in all (connect, TLS, send, every read)
    min_interval_s: float = 1.0  # Slack: about one message per second per webhook / channel
    safety_margin_s: float = 3.0  # Lambda time kept back so the handler can still fail cleanly ...
    safety_fraction: float = 0.25  # ... or this share of the remaining time, if less (a nearly spent Lambda)
    max_retry_after_s: float = 60.0  # outside Lambda (no deadline), wait at most this long on a 429

    def margin_s(self, remaining_s: float) -> float:
        """The Lambda time kept back from a delivery: min(safety margin, safety fraction × remaining)."""
        return min(self.safety_margin_s, max(0.0, remaining_s) * self.safety_fraction)


#: Errors that mean "this message's blocks, not the destination": the notifier then posts the text alone.
CONTENT_ERRORS = frozenset(
    {
        "invalid_payload",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_attachments",
        "msg_too_long",
        "msg_blocks_too_long",
        "too_many_attachments",
    }
)
#: Slack's error codes that will not go away by retrying, with what a person should do.
PERMANENT_CAUSES: dict[str, str] = {
    **dict.fromkeys(
        ("no_service", "no_service_id", "no_active_hooks", "invalid_token", "no_team", "team_disabled"),
        "the webhook was revoked or its Slack app removed: create a new incoming webhook and update the secret",
    ),
    **dict.fromkeys(
        ("invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"),
        "the bot token is invalid or revoked: reinstall the app and update the secret",
    ),
    **dict.fromkeys(
        ("channel_is_archived", "is_archived"),
        "the channel is archived: unarchive it or point the webhook/secret at another channel",
    ),
    "channel_not_found": "the channel was deleted or the app cannot see it: check the channel id in the secret",
    "not_in_channel": "the bot is not a member of the channel: invite it (/invite @your-app)",
    **dict.fromkeys(
        ("action_prohibited", "posting_to_general_channel_denied", "restricted_action"),
        "a workspace admin restricted posting to this channel",
    ),
    **dict.fromkeys(
        (*sorted(CONTENT_ERRORS), "invalid_arguments"),
        "Slack rejected the message format: please report this as a gatewatch bug",
    ),
}
_STATUS_CAUSES: dict[int, str] = {
    400: "Slack rejected the request as invalid",
    401: "the credentials were refused: update the secret",
    403: "forbidden: the webhook or token was revoked, or posting is restricted",
    404: "the webhook does not exist (revoked or mistyped): update the secret",
    410: "the webhook is gone (revoked or the channel archived): update the secret",
}
_RETRYABLE_API_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{1,63}")
#: The outcome's error when the delivery deadline left no time for (another) attempt.
DEADLINE = "deadline"


#: POST (url, body, headers, timeout): the answer within `timeout` seconds in all, or OSError.
Transport = Callable[[str, bytes, Mapping[str, str], float], HttpResponse]


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    retry: bool = False
    retry_after_s: float | None = None
    status: int | None = None
    error: str | None = None
    result: dict[str, Any] | None = None


#: Reads one HTTP response as an outcome (webhook or Web API rules).
Parse = Callable[[HttpResponse], _Outcome]


def destination_label(secret_value: str) -> str:
    """A stable, non-reversible name for a webhook or token in logs ("dest-3f2a…")."""
    return "dest-" + hashlib.sha256(secret_value.encode()).hexdigest()[:10]


class SlackClient:
    """Posts to incoming webhooks and calls the Web API with retries, pacing and deadline awareness."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        remaining_s: Callable[[], float] | None = None,
        transport: Transport = post,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        api_base: str = SLACK_API_BASE,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.remaining_s = remaining_s
        self._transport = transport
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        self._api_base = api_base
        self._last_sent: dict[str, float] = {}

    def post_webhook(self, url: str, payload: Mapping[str, Any]) -> None:
        """Post one message to an incoming webhook (exactly once on success)."""
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        self._send(url, body, headers, pace_key=destination_label(url), parse=_webhook_outcome)

    def call(
        self, token: str, method: str, payload: Mapping[str, Any], *, pace_key: str | None = None
    ) -> dict[str, Any]:
        """Call a Web API method (chat.postMessage, chat.update) and return Slack's JSON answer."""
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {token}"}
        outcome = self._send(
            self._api_base + method,
            body,
            headers,
            pace_key=pace_key or destination_label(token),
            parse=_api_outcome,
            what=method,
        )
        return outcome.result or {}

    # --- the loop ---

    def _send(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        pace_key: str,
        parse: Parse,
        what: str = "webhook",
    ) -> _Outcome:
        deadline = self._clock() + self._time_budget()  # one deadline for the whole delivery
        attempt = 0
        while True:
            attempt += 1
            outcome = self._attempt(url, body, headers, pace_key=pace_key, parse=parse, deadline=deadline)
            if outcome.ok:
                if attempt > 1:
                    logger.info(
                        "Slack %s delivered after %d attempts",
                        what,
                        attempt,
                        extra={"destination": pace_key, "attempts": attempt},
                    )
                return outcome
            if not outcome.retry:
                raise self._permanent_failure(what, pace_key, outcome, attempt)
            delay = self._retry_delay(what, pace_key, outcome, attempt, deadline)
            logger.warning(
                "Slack %s attempt %d failed (HTTP %s %s); retrying in %.2f s",
                what,
                attempt,
                outcome.status,
                outcome.error or "",
                delay,
                extra={"destination": pace_key, "status": outcome.status, "slack_error": outcome.error},
            )
            self._sleep(delay)

    def _attempt(
        self, url: str, body: bytes, headers: Mapping[str, str], *, pace_key: str, parse: Parse, deadline: float
    ) -> _Outcome:
        """One paced request within what is left of the deadline; a connection failure or the deadline
        passing is an outcome to retry, not an exception."""
        if not self._pace(pace_key, deadline):
            return _Outcome(ok=False, retry=True, error=DEADLINE)
        left = deadline - self._clock()
        if left <= 0:
            return _Outcome(ok=False, retry=True, error=DEADLINE)
        try:
            return parse(self._transport(url, body, headers, min(self.policy.timeout_s, left)))
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, DNS, timeout, deadline
            return _Outcome(ok=False, retry=True, error=_exception_name(exc))
        finally:
            self._last_sent[pace_key] = self._clock()

    def _permanent_failure(self, what: str, pace_key: str, outcome: _Outcome, attempts: int) -> DeliveryError:
        cause = (
            PERMANENT_CAUSES.get(outcome.error or "")
            or _STATUS_CAUSES.get(outcome.status or 0)
            or "Slack refused the message"
        )
        logger.error(
            "Slack %s failed permanently: HTTP %s %s — %s",
            what,
            outcome.status,
            outcome.error or "",
            cause,
            extra={"destination": pace_key, "status": outcome.status, "slack_error": outcome.error},
        )
        return _delivery_error(
            f"Slack {what} failed permanently (HTTP {outcome.status} {outcome.error or ''}): {cause}",
            outcome,
            permanent=True,
            attempts=attempts,
        )

    def _retry_delay(self, what: str, pace_key: str, outcome: _Outcome, attempt: int, deadline: float) -> float:
        """How long to wait before the next attempt; raises when attempts or the time before the deadline run out."""
        if attempt >= self.policy.max_attempts:
            raise self._give_up(what, pace_key, outcome, attempt, f"no success after {attempt} attempts")
        delay = outcome.retry_after_s if outcome.retry_after_s is not None else self._backoff(attempt)
        left = deadline - self._clock()
        if outcome.error == DEADLINE:
            raise self._give_up(what, pace_key, outcome, attempt, "no time left before the delivery deadline")
        if delay >= left:
            raise self._give_up(
                what,
                pace_key,
                outcome,
                attempt,
                f"waiting {delay:.1f} s would pass the delivery deadline ({max(0.0, left):.1f} s left)",
            )
        return delay

    def _give_up(self, what: str, pace_key: str, outcome: _Outcome, attempts: int, why: str) -> DeliveryError:
        logger.error(
            "Slack %s not delivered: %s (last: HTTP %s %s)",
            what,
            why,
            outcome.status,
            outcome.error or "",
            extra={"destination": pace_key, "attempts": attempts},
        )
        return _delivery_error(
            f"Slack {what} not delivered: {why} (last: HTTP {outcome.status} {outcome.error or ''})",
            outcome,
            permanent=False,
            attempts=attempts,
        )

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**(attempt-1)))."""
        ceiling = min(self.policy.max_delay_s, self.policy.base_delay_s * (2 ** (attempt - 1)))
        return self._rand() * ceiling

    def _time_budget(self) -> float:
        """Seconds this delivery may take: the Lambda's remaining time less the margin (outside Lambda, a bound)."""
        if self.remaining_s is None:
            return self.policy.max_retry_after_s + self.policy.timeout_s
        remaining = self.remaining_s()
        return remaining - self.policy.margin_s(remaining)

    def _pace(self, pace_key: str, deadline: float) -> bool:
        """Wait until the destination may take another message; False when that would pass the deadline."""
        last = self._last_sent.get(pace_key)
        if last is not None:
            wait = self.policy.min_interval_s - (self._clock() - last)
            if wait > 0:
                if self._clock() + wait >= deadline:
                    return False
                self._sleep(wait)
        return True


def _delivery_error(message: str, last: _Outcome, *, permanent: bool, attempts: int) -> DeliveryError:
    return DeliveryError(message, permanent=permanent, status=last.status, error=last.error, attempts=attempts)


def _slack_error(text: str) -> str | None:
    m = _ERROR_CODE.match(text.strip()[:64])
    return m.group(0) if m else None


def _retry_after(headers: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


def _webhook_outcome(resp: HttpResponse) -> _Outcome:
    if 200 <= resp.status < 300:
        return _Outcome(ok=True, status=resp.status)
    error = _slack_error(resp.body)
    if resp.status == 429:
        return _Outcome(ok=False, retry=True, retry_after_s=_retry_after(resp.headers), status=429, error=error)
    if resp.status >= 500 or resp.status == 408:
        return _Outcome(ok=False, retry=True, status=resp.status, error=error)
    return _Outcome(ok=False, retry=False, status=resp.status, error=error)


def _api_outcome(resp: HttpResponse) -> _Outcome:
    if resp.status == 429 or resp.status >= 500 or resp.status == 408:
        return _webhook_outcome(resp)
    try:
        answer = json.loads(resp.body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return _Outcome(ok=False, retry=not 400 <= resp.status < 500, status=resp.status, error=_slack_error(resp.body))
    if answer.get("ok") is True:
        return _Outcome(ok=True, status=resp.status, result=answer)
    error = _slack_error(str(answer.get("error") or "")) or "unknown_error"
    return _Outcome(
        ok=False,
        retry=error in _RETRYABLE_API_ERRORS,
        status=resp.status,
        error=error,
        retry_after_s=_retry_after(resp.headers) if error == "ratelimited" else None,
    )


def _exception_name(exc: BaseException) -> str:
    """A connection failure's class (and errno), never its text: some carry the URL."""
    reason = getattr(exc, "reason", None)
    inner = reason if isinstance(reason, BaseException) else exc
    name = type(inner).__name__
    errno = getattr(inner, "errno", None)
    return f"{name}" + (f"[{errno}]" if errno else "")


# --- delivery strategies (what the handler picks from its configuration) --------------------------


class Delivery(Protocol):
    def deliver(self, message: SlackMessage) -> None: ...


class LogDelivery:
    """Slack not configured: log the formatted message so it is still seen (and testable)."""

    def __init__(self, log: Any = logger) -> None:
        self._log = log

    def deliver(self, message: SlackMessage) -> None:
        self._log.info(
            "Slack not configured; formatted alert follows",
            extra={"slack_text": message.text, "slack_payload": message.to_payload()},
        )


class WebhookDelivery:
    """Incoming webhook: every message is a new post (webhooks cannot thread or edit)."""

    def __init__(self, client: SlackClient, secret: Callable[[], WebhookSecret]) -> None:
        self._client = client
        self._secret = secret

    def deliver(self, message: SlackMessage) -> None:
        self._client.post_webhook(self._secret().url, message.to_payload())


class BotDelivery:
    """Bot token: one thread per alarm; OK replies in the thread and marks the original resolved."""

    def __init__(
        self,
        client: SlackClient,
        secret: Callable[[], BotSecret],
        threads: ThreadStore | None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._secret = secret
        self._threads = threads
        self._now = now

    def deliver(self, message: SlackMessage) -> None:
        bot = self._secret()
        payload = message.to_payload()
        key = message.thread_key
        if self._threads is None or not key:  # no state table, or nothing to thread on: a plain post
            self._post(bot, {**payload, "channel": bot.channel})
            return
        ref = self._threads.get(key) if message.lifecycle is not Lifecycle.OPEN else None
        if ref is None:
            self._open(bot, payload, key, message.lifecycle, self._threads)
        else:
            self._reply(bot, payload, ref, message.lifecycle, self._threads)

    def _open(
        self, bot: BotSecret, payload: dict[str, Any], key: str, lifecycle: Lifecycle, threads: ThreadStore
    ) -> None:
        """A top-level post; an opening or continuing message remembers it as the thread for `key`."""
        answer = self._post(bot, {**payload, "channel": bot.channel})
        if lifecycle in (Lifecycle.OPEN, Lifecycle.CONTINUE) and answer.get("ts"):
            threads.put(
                ThreadRef(
                    key=key, channel=str(answer.get("channel") or bot.channel), ts=str(answer["ts"]), message=payload
                )
            )

    def _reply(
        self, bot: BotSecret, payload: dict[str, Any], ref: ThreadRef, lifecycle: Lifecycle, threads: ThreadStore
    ) -> None:
        """A reply in the remembered thread; a recovery also marks the original resolved and forgets the thread."""
        reply = {**payload, "channel": ref.channel, "thread_ts": ref.ts}
        if lifecycle is Lifecycle.CONTINUE:
            reply["reply_broadcast"] = True  # a repeat of a critical cause should be seen in the channel
        self._post(bot, reply)
        if lifecycle is Lifecycle.RESOLVE:
            if ref.message:
                when = self._now().strftime("%Y-%m-%d %H:%M:%S UTC")
                update = {**mark_resolved(ref.message, when), "channel": ref.channel, "ts": ref.ts}
                self._client.call(bot.token, "chat.update", update, pace_key=ref.channel)
            threads.delete(ref.key)

    def _post(self, bot: BotSecret, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._client.call(bot.token, "chat.postMessage", body, pace_key=str(body.get("channel")))
