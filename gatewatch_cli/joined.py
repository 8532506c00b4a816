"""One answer per request, streamed: access entries joined with the execution request of the same id.

`gatewatch classify` prints a request as soon as it can, so a file of any size goes through in bounded
memory. A request seen in both logs is printed once, merged (the stronger evidence decides, the access
log gives the latencies): access entries wait in a window of the last WINDOW requests for an execution
request with their id; execution requests with no access entry yet wait in a window of their own. When
everything fits (any ordinary export) the output is exactly `Analysis.joined()`; past the windows, the
oldest are printed unjoined — bounded memory wins over a join across gigabytes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from gatewatch.classify.classifier import merge_classified
from gatewatch.models import ClassifiedRequest

WINDOW = 200_000


class JoinWindow:
    """Joins and prints requests as they come (see the module docstring)."""

    def __init__(self, emit: Callable[[ClassifiedRequest], None], *, window: int = WINDOW) -> None:
        self.emit = emit
        self.window = window
        self._access: OrderedDict[int, ClassifiedRequest] = OrderedDict()
        self._access_by_id: dict[str, int] = {}
        self._execution: OrderedDict[int, ClassifiedRequest] = OrderedDict()  # in arrival order
        self._execution_by_id: dict[str, int] = {}
        self._seq = 0

    def add(self, access: list[ClassifiedRequest], execution: list[ClassifiedRequest]) -> None:
        for req in access:
            self._seq += 1
            waiting_at = self._execution_by_id.pop(req.request_id, None) if req.request_id else None
            waiting = self._execution.pop(waiting_at, None) if waiting_at is not None else None
            self._access[self._seq] = merge_classified(req, waiting) if waiting is not None else req
            if req.request_id and waiting is None:
                self._access_by_id[req.request_id] = self._seq
        for req in execution:
            self._seq += 1
            seq = self._access_by_id.pop(req.request_id, None) if req.request_id else None
            if seq is not None and seq in self._access:
                self._access[seq] = merge_classified(self._access[seq], req)
                continue
            self._execution[self._seq] = req
            if req.request_id:
                self._execution_by_id.setdefault(req.request_id, self._seq)
        self._bound()

    def _bound(self) -> None:
        while len(self._access) > self.window:
            _seq, req = self._access.popitem(last=False)
            if req.request_id:
                self._access_by_id.pop(req.request_id, None)
            self.emit(req)
        while len(self._execution) > self.window:
            seq, req = self._execution.popitem(last=False)
            if req.request_id and self._execution_by_id.get(req.request_id) == seq:
                del self._execution_by_id[req.request_id]
            self.emit(req)

    def flush(self) -> None:
        """Print everything still waiting: access entries in order, then execution requests without one."""
        for req in self._access.values():
            self.emit(req)
        for req in self._execution.values():
            self.emit(req)
        self._access.clear()
        self._access_by_id.clear()
        self._execution.clear()
        self._execution_by_id.clear()
