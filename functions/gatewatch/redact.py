"""Keep secrets and whole log lines out of logs, alerts and Slack.

Why: API Gateway masks most credentials, but custom access-log formats, backend error messages and
user agents are free text a caller controls. Anything that looks like a credential is replaced
before it leaves the engine; samples are short so a log line never carries a whole request.
"""

from __future__ import annotations

import re
from functools import lru_cache

from gatewatch.constants import REJECTION_SAMPLE_CHARS

_REDACTED = "[REDACTED]"

# Each pattern is anchored on a keyword and bounded ({1,4096}), so none can backtrack badly.
_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Authorization: Bearer xxx / Basic xxx / AWS4-HMAC-SHA256 Credential=...
    re.compile(r"(?i)\b(authorization\s*[=:]\s*\"?)((?:bearer|basic|digest|aws4-hmac-sha256)\s+)?[^\s\",;}]{1,4096}"),
    re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]{8,4096}=*"),
    # x-api-key / api_key / apikey / token / secret / password = value
    re.compile(
        r"(?i)\b((?:x-api-key|api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|id[_-]?token|token|"
        r"secret|password|passwd|client[_-]?secret|session[_-]?token)\"?\s*[=:]\s*\"?)[^\s\",;&}]{1,4096}"
    ),
    # JWTs wherever they appear
    re.compile(r"\beyJ[A-Za-z0-9_-]{5,2048}\.[A-Za-z0-9_-]{5,4096}\.[A-Za-z0-9_-]{0,4096}"),
    # AWS access key ids
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    # Slack webhook URLs and tokens
    re.compile(r"https://hooks\.slack\.com/[^\s\"'<>]{1,512}"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{8,256}"),
)


# One cheap search decides whether any of the patterns above can match at all (most texts: no).
_MAYBE_SECRET = re.compile(r"(?i)authoriz|bearer|key|token|secret|passw|eyJ|AKIA|ASIA|hooks\.slack|xox")


def redact_secrets(text: str) -> str:
    """Replace anything that looks like a credential with [REDACTED] (keeps the key name for context)."""
    if not text or _MAYBE_SECRET.search(text) is None:
        return text
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: (m.group(1) or "") + _REDACTED, text)
        else:
            text = pattern.sub(_REDACTED, text)
    return text


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")  # lone surrogates cannot be written as UTF-8


def short_sample(text: str | bytes, limit: int = REJECTION_SAMPLE_CHARS) -> str:
    """A short, printable, redacted excerpt for a structured log line or a report."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text[: limit * 4]).decode("utf-8", "replace")
    return _short_sample(text[: limit * 4], limit)


@lru_cache(maxsize=4096)
def _short_sample(excerpt: str, limit: int) -> str:
    # Cached: the same error message or evidence repeats on every failing request of an incident.
    if excerpt.isprintable():
        excerpt = redact_secrets(excerpt)
        return excerpt if len(excerpt) <= limit else excerpt[: limit - 1] + "…"
    excerpt = _CONTROL.sub("?", excerpt).replace("\n", "\\n").replace("\r", "\\r").replace("\t", " ")
    excerpt = redact_secrets(excerpt)
    return excerpt if len(excerpt) <= limit else excerpt[: limit - 1] + "…"
