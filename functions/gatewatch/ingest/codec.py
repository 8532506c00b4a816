"""Bytes in, JSON documents out: base64, gzip/zlib (any number of members, size-capped) and glued JSON.

Why one module: a CloudWatch Logs delivery, a Kinesis or Firehose record and a Firehose->S3 object
are the same three layers — base64 (not for files), compression, one or more JSON documents — and
each layer must fail as a counted reason, never as an exception, and in linear time on any input.

- base64: strict first (the fast path); line-wrapped base64 is accepted.
- compression: gzip or zlib auto-detected; concatenated members are fed in bounded slices so
  `unused_data` is never re-copied; output is capped (decompression-bomb guard).
- JSON documents glued, spaced or one per line: boundaries are found with one precompiled regex and
  validated by the parser on a bounded slice; when a boundary falls inside a string too often, a
  structural scanner (string-aware, `bytes.find` based) finds the real end.
"""

from __future__ import annotations

import binascii
import re
import zlib
from collections.abc import Iterator
from typing import Any

import orjson

from gatewatch.ingest.rejections import Reason, input_rejection
from gatewatch.models import Rejection

_AUTO_WBITS = zlib.MAX_WBITS | 32  # gzip or zlib header, auto-detected (as Powertools does)
_INFLATE_CHUNK = 1 << 20  # multi-member gzip is fed in 1 MB slices: unused_data stays small
_MAX_BOUNDARY_RETRIES = 16  # candidate "}{" boundaries tried per document before scanning structurally
_WS_BETWEEN_DOCUMENTS = re.compile(rb"[ \t\r\n\x00,]*")

#: Parses bytes, bytearray, memoryview and str without copying.
loads = orjson.loads


def dumps(value: Any) -> str:
    """Compact JSON text of a value (non-string log messages are kept readable this way)."""
    return orjson.dumps(value).decode()


class BadJSON(Exception):
    """A JSON parse failure, with whether the text merely ended too early."""

    def __init__(self, message: str, incomplete: bool) -> None:
        super().__init__(message)
        self.message = message
        self.incomplete = incomplete  # the text ended inside a value: a later boundary may complete it


def parse_json_document(segment: Any) -> Any:
    """Parse one JSON document; invalid UTF-8 is replaced (U+FFFD) rather than losing the document."""
    try:
        return loads(segment)
    except orjson.JSONDecodeError as exc:
        msg = getattr(exc, "msg", str(exc))
        if "UTF-8" in msg and not isinstance(segment, str):
            try:
                return loads(str(segment, "utf-8", "replace"))
            except orjson.JSONDecodeError as again:
                msg = getattr(again, "msg", str(again))
            except (ValueError, RecursionError) as again:
                raise BadJSON(str(again), False) from None
        incomplete = "end of data" in msg or "EOF" in msg or msg.startswith("Unterminated")
        raise BadJSON(msg, incomplete) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise BadJSON(str(exc) or type(exc).__name__, False) from None


def _is_zlib_header(b0: int, b1: int) -> bool:
    return (b0 & 0x0F) == 8 and (b0 >> 4) <= 7 and ((b0 << 8) | b1) % 31 == 0


def is_compressed(buf: Any, at: int = 0) -> bool:
    """Does `buf` (from `at`) start with a gzip or zlib header?"""
    if len(buf) - at < 2:
        return False
    b0, b1 = buf[at], buf[at + 1]
    return (b0 == 0x1F and b1 == 0x8B) or _is_zlib_header(b0, b1)


def skip_whitespace(buf: Any, pos: int) -> int:
    """The first position at or after `pos` that is not blank, NUL or a separating comma."""
    match = _WS_BETWEEN_DOCUMENTS.match(buf, pos)
    return match.end() if match is not None else pos


def b64decode(data: Any, where: str) -> tuple[bytes | None, bool, Rejection | None]:
    """(raw bytes, was it strictly valid base64, rejection). Line-wrapped base64 is accepted."""
    if isinstance(data, str):
        try:
            data = data.encode("ascii")
        except UnicodeEncodeError:
            return (
                None,
                False,
                input_rejection(Reason.INVALID_BASE64, data, "data contains non-ASCII characters", where),
            )
    elif not isinstance(data, (bytes, bytearray, memoryview)):
        return (
            None,
            False,
            input_rejection(Reason.MISSING_DATA, data, f"data is {type(data).__name__}, not a string", where),
        )
    try:
        return binascii.a2b_base64(data, strict_mode=True), True, None
    except (binascii.Error, ValueError):
        pass
    try:
        raw = binascii.a2b_base64(data)
    except (binascii.Error, ValueError) as exc:
        return None, False, input_rejection(Reason.INVALID_BASE64, data, f"not base64 ({exc})", where)
    return raw, False, None


class Inflated:
    """The result of decompressing one buffer: data, how much of it came from complete members, problem."""

    __slots__ = ("complete", "data", "detail", "problem")

    def __init__(self, data: Any, complete: int, problem: str | None = None, detail: str = "") -> None:
        self.data = data
        self.complete = complete
        self.problem = problem
        self.detail = detail


def inflate(raw: Any, cap: int) -> Inflated:
    """gzip or zlib -> bytes, any number of concatenated members, output capped at `cap` bytes."""
    d = zlib.decompressobj(_AUTO_WBITS)
    try:
        out = d.decompress(raw, cap + 1)
    except zlib.error as exc:
        return Inflated(b"", 0, Reason.CORRUPT, f"corrupt compressed data ({exc})")
    if len(out) > cap or d.unconsumed_tail:
        return Inflated(b"", 0, Reason.TOO_LARGE, f"decompressed data exceeds {cap} bytes")
    if not d.eof:
        return Inflated(out, 0, Reason.TRUNCATED, "compressed data ends before the end of its stream")
    rest = d.unused_data
    if not rest:
        return Inflated(out, len(out))  # the common case: exactly one member
    return _inflate_more(memoryview(raw), len(raw) - len(rest), bytearray(out), cap)


def _inflate_more(mv: memoryview, off: int, out: bytearray, cap: int) -> Inflated:
    """Further gzip members (Firehose->S3 objects), fed in bounded slices so nothing is re-copied."""
    n = len(mv)
    complete = len(out)
    while off < n:
        if not is_compressed(mv, off):
            if bytes(mv[off:]).strip(b" \t\r\n\x00"):
                return Inflated(out, complete, Reason.TRAILING_GARBAGE, "bytes after the last compressed member")
            break
        d = zlib.decompressobj(_AUTO_WBITS)
        while True:
            chunk = mv[off : off + _INFLATE_CHUNK]
            if not chunk:
                return Inflated(out, complete, Reason.TRUNCATED, "a compressed member ends before its end")
            try:
                piece = d.decompress(chunk, cap + 1 - len(out))
            except zlib.error as exc:
                return Inflated(out, complete, Reason.CORRUPT, f"corrupt compressed member ({exc})")
            out += piece
            if len(out) > cap:
                return Inflated(b"", 0, Reason.TOO_LARGE, f"decompressed data exceeds {cap} bytes")
            if d.eof:
                off += len(chunk) - len(d.unused_data)
                break
            off += len(chunk) - len(d.unconsumed_tail)
        complete = len(out)
    return Inflated(out, complete)


# ---------------------------------------------------------------------------------------------------
# Several JSON documents in one buffer
# ---------------------------------------------------------------------------------------------------

# Where one document may end and the next begin: a closing bracket, optional whitespace, an opening
# one. Outside strings this never occurs inside a valid document (a comma would be required), so a
# candidate is either a real boundary or lies inside a string (then the parse says "incomplete").
_BOUNDARY = re.compile(rb"[}\]][ \t\r\n]*[{\[]")
_STRUCTURAL = re.compile(rb'[{}\[\]"]')
#: What `iter_documents` yields in place of a document that does not parse.
BROKEN = object()


def _structural_end(buf: Any, start: int, n: int) -> int | None:
    """End offset of the JSON value starting at `start` (string-aware bracket matching), or None."""
    depth = 0
    pos = start
    search = _STRUCTURAL.search
    find = buf.find
    while True:
        m = search(buf, pos)
        if m is None:
            return None
        i = m.start()
        ch = buf[i]
        if ch == 0x22:  # '"': jump to the closing quote (not preceded by an odd run of backslashes)
            j = i + 1
            while True:
                k = find(b'"', j)
                if k < 0:
                    return None
                b = k - 1
                while buf[b] == 0x5C:
                    b -= 1
                if (k - 1 - b) % 2 == 0:
                    break
                j = k + 1
            pos = k + 1
        elif ch == 0x7B or ch == 0x5B:
            depth += 1
            pos = i + 1
        else:
            depth -= 1
            pos = i + 1
            if depth <= 0:
                return pos


def iter_documents(buf: Any, start: int = 0) -> Iterator[tuple[Any, int, int, str]]:
    """Yield (document or BROKEN, start, end, error) for JSON documents glued, spaced or one per line."""
    mv = memoryview(buf)
    n = len(buf)
    pos = skip_whitespace(buf, start)
    while pos < n:
        end, doc, error = _next_document(buf, mv, pos, n)
        yield doc, pos, end, error
        pos = skip_whitespace(buf, max(end, pos + 1))


def _next_document(buf: Any, mv: memoryview, s: int, n: int) -> tuple[int, Any, str]:
    search_from = s
    for _ in range(_MAX_BOUNDARY_RETRIES):
        m = _BOUNDARY.search(buf, search_from)
        end = m.start() + 1 if m is not None else n
        try:
            return end, parse_json_document(mv[s:end]), ""
        except BadJSON as bad:
            if m is None or not bad.incomplete:
                return end, BROKEN, bad.message
            search_from = m.start() + 1
    # Many "}{" inside strings: find the real end by scanning, then parse once.
    structural_end = _structural_end(buf, s, n)
    if structural_end is None:
        return n, BROKEN, "unterminated JSON document"
    end = structural_end
    try:
        return end, parse_json_document(mv[s:end]), ""
    except BadJSON as bad:
        return end, BROKEN, bad.message
