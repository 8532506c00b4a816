"""Files and stdin read as streams: memory bounded by a window, whatever the size of the input.

A 2 GB log file, or a 1 MB gzip that inflates to gigabytes, must not be read into memory whole. The
input is read in windows; gzip and zlib (several members, nested) are inflated window by window with
a cap on the total; plain text and JSON Lines go through line by line. Only inputs that are one JSON
document (a payload file, an event, a filter-log-events page, a pasted table) are read whole, and
only up to MAX_WHOLE_INPUT — beyond it the input is refused with a reason that says what to do.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

from gatewatch.ingest.codec import BadJSON, is_compressed, parse_json_document
from gatewatch.ingest.rejections import Reason

#: Decompressed bytes read from one input at most (a gzip bomb stops here, counted as too-large).
MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024
#: An input that is one JSON document (not JSON Lines, not text) is read whole, up to this size.
MAX_WHOLE_INPUT = 256 * 1024 * 1024
WINDOW_BYTES = 4 * 1024 * 1024
#: A text line longer than this is not a log line (CloudWatch events are at most 256 KB): it is skipped.
MAX_LINE_BYTES = 16 * 1024 * 1024
_SNIFF_BYTES = 64 * 1024
_AUTO_WBITS = zlib.MAX_WBITS | 32  # gzip or zlib, auto-detected
_MAX_NESTING = 3


class Readable(Protocol):
    """What is read from: a file, stdin, or another stream of this module."""

    def read(self, size: int = ..., /) -> bytes: ...


class Inflating:
    """A readable stream of the decompressed content of another (gzip or zlib, any number of members).

    `problem`/`detail` say what went wrong once the stream ended early: corrupt data, a truncated
    member, bytes after the last member, or more than `cap` bytes of output (the rest is not read).
    """

    def __init__(self, source: Readable, first: bytes, *, cap: int = MAX_FILE_BYTES) -> None:
        self.source = source
        self.pending = first
        self.cap = cap
        self.produced = 0
        self.problem: str | None = None
        self.detail = ""
        self._inflater: zlib._Decompress | None = zlib.decompressobj(_AUTO_WBITS)
        self._done = False

    def read(self, size: int = WINDOW_BYTES) -> bytes:
        """Up to about `size` decompressed bytes; b"" at the end."""
        out = bytearray()
        while len(out) < size and not self._done:
            if not self.pending:
                self.pending = self.source.read(WINDOW_BYTES)
                if not self.pending:
                    if self._inflater is not None and not self._inflater.eof and (self.produced or out):
                        self._stop(Reason.TRUNCATED, "compressed data ends before the end of its stream")
                    self._done = True
                    break
            out += self._inflate(size - len(out))
        return bytes(out)

    def _inflate(self, room: int) -> bytes:
        inflater = self._inflater
        if inflater is None or inflater.eof:  # the next member, or what follows the last one
            if not is_compressed(self.pending):
                if self.pending.strip(b" \t\r\n\x00"):
                    self._stop(Reason.TRAILING_GARBAGE, "bytes after the last compressed member")
                self.pending = b""
                return b""
            inflater = self._inflater = zlib.decompressobj(_AUTO_WBITS)
        try:
            piece = inflater.decompress(self.pending, min(room, self.cap + 1 - self.produced))
        except zlib.error as exc:
            self._stop(Reason.CORRUPT, f"corrupt compressed data ({exc})")
            return b""
        self.pending = inflater.unconsumed_tail or inflater.unused_data
        self.produced += len(piece)
        if self.produced > self.cap:
            self._stop(Reason.TOO_LARGE, f"decompressed data exceeds {self.cap} bytes")
            return piece[: len(piece) - (self.produced - self.cap)]
        return piece

    def _stop(self, problem: str, detail: str) -> None:
        self.problem, self.detail, self._done = problem, detail, True


class Peeking:
    """A stream whose first bytes can be looked at before it is read."""

    def __init__(self, source: Readable, head: bytes) -> None:
        self.source = source
        self.buffer = head
        self.overlong = 0  # lines longer than MAX_LINE_BYTES, skipped by `lines`

    @classmethod
    def open(cls, source: Readable) -> Peeking:
        head = b""
        while len(head) < _SNIFF_BYTES:
            chunk = source.read(_SNIFF_BYTES - len(head))
            if not chunk:
                break
            head += chunk
        return cls(source, head)

    def read(self, size: int = WINDOW_BYTES) -> bytes:
        if self.buffer:
            out, self.buffer = self.buffer[:size], self.buffer[size:]
            return out
        return self.source.read(size)

    def read_all(self, limit: int) -> bytes | None:
        """Everything (None when there is more than `limit` bytes: nothing more is read)."""
        parts = [self.buffer]
        total = len(self.buffer)
        self.buffer = b""
        while True:
            chunk = self.source.read(WINDOW_BYTES)
            if not chunk:
                return b"".join(parts)
            total += len(chunk)
            if total > limit:
                return None
            parts.append(chunk)

    def lines(self) -> Iterator[bytes]:
        """The stream's lines (without their line ends), window by window. A line longer than
        MAX_LINE_BYTES is skipped to its end and counted in `overlong` (memory stays bounded)."""
        rest = b""
        skipping = False
        while True:
            chunk = self.read(WINDOW_BYTES)
            if not chunk:
                if rest and not skipping:
                    yield rest
                return
            data = rest + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = b"" if skipping else data
                if len(rest) > MAX_LINE_BYTES:
                    rest, skipping = b"", True
                    self.overlong += 1
                continue
            lines = data[:cut].split(b"\n")
            if skipping:
                lines, skipping = lines[1:], False
            yield from lines
            rest = data[cut + 1 :]


def first_line_is_json(head: bytes) -> object | None:
    """The first line parsed as JSON when it is one complete JSON value (JSON Lines), else None."""
    end = head.find(b"\n")
    if end < 0:
        return None
    try:
        return parse_json_document(head[:end])
    except BadJSON:
        return None
