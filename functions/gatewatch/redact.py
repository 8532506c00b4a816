"""Keep secrets and whole log lines out of logs, alerts and Slack.

Why: API Gateway masks most credentials, but custom access-log formats, backend error messages and
user agents are free text a caller controls. Anything that looks like a credential is replaced
before it leaves the engine; samples are short so a log line never carries a whole request.

What is caught, wherever it sits in a string (right after a letter or a digit too — no `\\b`
anchors): AWS access key ids; Slack tokens and webhook URLs (GovSlack's included); GitHub, Stripe
and Google API keys; JWTs; `Authorization` header values, `Bearer …`, `Basic <base64 user:pass>`;
cookies; password / secret / token / key / signature / session fields in query strings, headers and
JSON (escaped JSON too); Azure `AccountKey=`, `SharedAccessKey=` and SAS `sig=`. A secret cut off
at the end of a sample (samples are cut before they are redacted) is redacted as far as it goes.

Linear time on any input: one pass of one regular expression whose branches each start with a
literal keyword or prefix and either match a bounded run or fail within a bounded number of
characters; the branches that would otherwise fail after a long scan (a JWT without its dots,
`Basic` followed by something that is not base64 user:pass) always match and decide in Python,
re-scanning what they keep once with the other branches.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache

from gatewatch.constants import REJECTION_SAMPLE_CHARS

REDACTED = "[REDACTED]"
_REDACTED = REDACTED

# An optional quote after a key or before a value, as plain JSON writes it or JSON inside a JSON string.
_QUOTE = r"""(?:\\{0,3}["'])"""
_SEPARATOR = rf"{_QUOTE}?\s*[=:]\s*"
#: Field names whose value is a secret (case-insensitive), in query strings, headers and JSON.
_SECRET_KEYS = (
    r"(?:x-)?api[_-]?key|apikey|(?:aws[_-]?)?secret[_-]?access[_-]?key|access[_-]?key(?:[_-]?id)?|"
    r"secret[_-]?key|private[_-]?key|client[_-]?secret|"
    r"(?:access|refresh|id|auth|session|security|csrf|xsrf|api)[_-]?token|x-amz-security-token|token|"
    r"secret|passw(?:or)?d|pwd|passphrase|credentials?|x-amz-credential|x-amz-signature|signature|sig|"
    r"account[_-]?key|shared[_-]?access[_-]?(?:key|signature)|"
    r"session(?:[_-]?id)?|sessid|jsessionid|phpsessid|connect\.sid"
)
_FIELD_VALUE = (
    r"""\\{0,3}"(?:[^"\\\r\n]|\\.){1,4096}"""  # "quoted" (the closing quote stays)
    r"""|\\{0,3}'[^'\r\n]{1,4096}"""  # 'quoted'
    r"""|[^\s"'&,;}<>]{1,4096}"""  # bare, up to the next delimiter
)
_AUTH_SCHEMES = r"bearer|basic|digest|negotiate|ntlm|token|aws4-hmac-sha256|dpop|mac|hoba"

_BRANCHES = {
    # Authorization: <scheme> <credentials>   (the header name and scheme stay for context)
    "auth": rf"(?i:(?:proxy-)?authorization){_SEPARATOR}{_QUOTE}?(?:(?i:{_AUTH_SCHEMES})\s+)?",
    # Cookie: a=b; c=d   (the whole value: every cookie may be a session)
    "cookie": rf"(?i:(?:set-)?cookie){_SEPARATOR}{_QUOTE}?",
    # password=…, "client_secret": "…", X-Api-Key: …, AccountKey=…, sig=…
    "field": rf"(?i:{_SECRET_KEYS}){_SEPARATOR}",
    "bearer": r"(?i:bearer)\s+",
    "basic": r"(?i:basic)\s+",
    "jwt": r"eyJ",
    "token": (
        r"(?:AKIA|ASIA|ABIA|ACCA)(?:[A-Z0-9]{16}|[A-Z0-9]{1,15}\Z)"  # AWS access key ids
        r"|xox[abposre]-(?:[A-Za-z0-9-]{8,256}|[A-Za-z0-9-]{1,7}\Z)|xapp-[0-9]-[A-Za-z0-9-]{1,256}"  # Slack
        r"|hooks\.slack(?:-gov)?\.com/[^\s\"'<>\\]{1,512}"  # Slack and GovSlack webhooks
        r"|gh[pousr]_(?:[A-Za-z0-9]{20,255}|[A-Za-z0-9]{1,19}\Z)|github_pat_[A-Za-z0-9_]{1,255}"  # GitHub
        r"|(?:sk|rk)_(?:live|test)_(?:[A-Za-z0-9]{8,247}|[A-Za-z0-9]{1,7}\Z)|whsec_[A-Za-z0-9]{1,255}"  # Stripe
        r"|AIza[0-9A-Za-z_-]{1,35}"  # Google API keys
    ),
}
#: What follows each keyword branch: the value that is replaced.
_VALUES = {
    "auth": r"[^\s\"',;}\\]{1,4096}",
    "cookie": r"[^\"\r\n\\]{1,4096}",
    "field": f"(?:{_FIELD_VALUE})",
    "bearer": r"(?:[A-Za-z0-9\-._~+/]{8,4096}=*|[A-Za-z0-9\-._~+/]{1,7}\Z)",
    "basic": r"[A-Za-z0-9+/]{4,4096}={0,2}",
    # always matches from "eyJ": the run is consumed once, and the callback decides whether it is a JWT
    "jwt": r"[A-Za-z0-9_-]*+(?:\.[A-Za-z0-9_-]*+){0,2}",
    "token": "",
}


def _pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(
        "|".join(f"(?P<{n}>{_BRANCHES[n]})" + (f"(?P<{n}_value>{_VALUES[n]})" if _VALUES[n] else "") for n in names)
    )


_ALL = _pattern(("auth", "cookie", "field", "bearer", "basic", "jwt", "token"))
_NOT_JWT = _pattern(("auth", "cookie", "field", "bearer", "basic", "token"))

# One cheap search of the lower-cased text decides whether any branch can match at all (most texts: no).
# Every keyword and prefix above, lower-cased: a case-sensitive search of text.lower() is several
# times faster than a case-insensitive one.
_MAYBE_SECRET = re.compile(
    r"authoriz|bearer|basic|cookie|passw|pwd|passphrase|secret|token|key|credential|sig|sess|"
    r"eyj|akia|asia|abia|acca|hooks\.slack|xox|xapp-|gh[pousr]_|github_pat_|[sr]k_(?:live|test)_|whsec_|aiza"
)


def redact_secrets(text: str) -> str:
    """Replace anything that looks like a credential with [REDACTED] (keeps the key name for context)."""
    if not text or _MAYBE_SECRET.search(text.lower()) is None:
        return text
    return _ALL.sub(_replace, text)


def _replace(m: re.Match[str]) -> str:
    kind = m.lastgroup or ""
    if kind == "token":
        return _REDACTED
    if kind.endswith("_value"):
        kind = kind[: -len("_value")]
    key, value = m.group(kind), m.group(f"{kind}_value")
    if kind == "jwt":
        return _REDACTED if _is_jwt(key + value, at_end=m.end() == len(m.string)) else key + _rescan(value)
    if kind == "basic" and not _is_basic_credential(value, at_end=m.end() == len(m.string)):
        return key + _ALL.sub(_replace, value)
    opening = _OPENING_QUOTE.match(value)  # a quoted field value keeps its opening quote
    return key + (opening.group() if opening else "") + _REDACTED


_OPENING_QUOTE = re.compile(r"""\\{0,3}["']""")


def _rescan(text: str) -> str:
    """What a non-JWT `eyJ…` run held, searched once more for the other secrets (never for JWTs again)."""
    return _NOT_JWT.sub(_replace, text) if text else text


def _is_jwt(run: str, *, at_end: bool) -> bool:
    """header.payload[.signature] — or, cut off at the end of a sample, a long enough first segment."""
    parts = run.split(".")
    if len(parts) >= 2 and len(parts[0]) >= 10 and parts[1]:
        return True
    return at_end and len(run) >= 10


def _is_basic_credential(value: str, *, at_end: bool) -> bool:
    """`Basic` followed by base64 of `user:password` (or, cut off at the end, anything base64)."""
    if at_end:
        return True
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


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
