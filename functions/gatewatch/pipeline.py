"""The one place where decode, parse and classify meet — used by the Lambda, the CLI and the demo alike.

`LogAnalyzer` takes batches (whatever the input was) and produces an `Analysis`: one classified
request per access-log entry (the only source of Requests, errors and latencies) and one per
execution-log request (the only source of Causes), plus parsed/unparsed line counts and the
rejections. Nothing here calls AWS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import Any

from gatewatch.classify.classifier import classify_access, classify_execution, merge_classified
from gatewatch.config import ApiSettings, EngineConfig
from gatewatch.constants import SOURCE_ACCESS, SOURCE_EXECUTION, SOURCE_INPUT, SOURCE_OTHER
from gatewatch.metrics.fastpath import tally_json_lines
from gatewatch.metrics.tally import minute_runs, owned, route_tallies, tally_summary
from gatewatch.models import (
    AccessRecord,
    AccessSummary,
    ClassifiedRequest,
    ExecutionRequest,
    LogBatch,
    LogEvent,
    LogEvents,
    LogKind,
    Rejection,
    RouteTally,
)
from gatewatch.naming import execution_log_group_ids
from gatewatch.parse.access import (
    looks_like_access_line,
    parse_access_line,
    parse_access_line_or_summary,
    read_json_access,
)
from gatewatch.parse.execution import ExecutionAssembler, looks_like_execution_line
from gatewatch.parse.layouts import layouts_for
from gatewatch.parse.log_groups import SNIFF_LINES, holds_gateway_logs

MAX_KEPT_REJECTIONS = 1000
#: How many log groups' API Gateway verdicts a run remembers, and how many set-aside groups it names.
MAX_REMEMBERED_GROUPS = 1000
MAX_NAMED_OTHER_GROUPS = 20
#: Origins of text a person wrote or exported, where a blank line separates entries (not an empty event).
_TEXT_ORIGINS = frozenset({"text", "json"})
#: Origins whose access entries are rows of a query's projection or pasted fragments (see parse_access_line).
_PARTIAL_ORIGINS = frozenset({"insights-projection", "fragment"})
REASON_EMPTY_MESSAGE = "empty-message"


@dataclass
class Analysis:
    """What one run (a Lambda invocation, a CLI run) found."""

    access: list[ClassifiedRequest] = field(default_factory=list)
    execution: list[ClassifiedRequest] = field(default_factory=list)
    # With keep_successes=False (the Lambda), successful access entries are tallied here per
    # (api_id, stage, api_name, route) instead of being listed in `access`.
    successes: dict[tuple, RouteTally] = field(default_factory=dict)
    lines_parsed: Counter = field(default_factory=Counter)
    lines_unparsed: Counter = field(default_factory=Counter)
    # Lines whose keys a caller's unescaped value added (gatewatch.parse.trust), by source: counted as
    # parsed too, read distrustfully (no Api, Stage or Route of their own, no alert).
    lines_suspicious: Counter = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    incomplete_execution_requests: int = 0
    # (format, fields the entry carried) -> entries; one key per distinct log format, so counting is cheap
    access_field_sets: Counter = field(default_factory=Counter)
    recovered_access_lines: int = 0
    decoded_events: int = 0  # log events the input decoded into (set by the CLI; 0 = nothing readable)
    # Log groups that are not API Gateway's (account-policy mode) -> their lines, set aside (the first few groups)
    other_log_groups: Counter = field(default_factory=Counter)

    def merge(self, other: Analysis) -> Analysis:
        """Combine two analyses (e.g. one per Kinesis record) into a new one."""
        return Analysis(
            access=self.access + other.access,
            execution=self.execution + other.execution,
            successes=_merge_tallies(self.successes, other.successes),
            lines_parsed=self.lines_parsed + other.lines_parsed,
            lines_unparsed=self.lines_unparsed + other.lines_unparsed,
            lines_suspicious=self.lines_suspicious + other.lines_suspicious,
            rejections=(self.rejections + other.rejections)[:MAX_KEPT_REJECTIONS],
            incomplete_execution_requests=self.incomplete_execution_requests + other.incomplete_execution_requests,
            access_field_sets=self.access_field_sets + other.access_field_sets,
            recovered_access_lines=self.recovered_access_lines + other.recovered_access_lines,
            decoded_events=self.decoded_events + other.decoded_events,
            other_log_groups=self.other_log_groups + other.other_log_groups,
        )

    @property
    def access_formats(self) -> Counter:
        """json/clf/csv/xml -> entries."""
        out: Counter = Counter()
        for (fmt, _), n in self.access_field_sets.items():
            out[fmt] += n
        return out

    def fields_by_format(self) -> dict[str, set[str]]:
        """Canonical access-log fields seen at least once, per format."""
        out: dict[str, set[str]] = {}
        for (fmt, present), _ in self.access_field_sets.items():
            out.setdefault(fmt, set()).update(present)
        return out

    def joined(self) -> list[ClassifiedRequest]:
        """One answer per request: access entries merged with the execution request of the same id.

        (An analysis made with keep_successes=False has its successful requests only in `successes`.)

        Used by `gatewatch classify`/`analyze`, never for metrics (metrics keep the sources apart so a
        request is counted once in Requests).
        """
        by_id: dict[str, ClassifiedRequest] = {}
        for req in self.execution:
            if req.request_id:
                by_id[req.request_id] = req
        out: list[ClassifiedRequest] = []
        used: set[str] = set()
        for req in self.access:
            match = by_id.get(req.request_id) if req.request_id else None
            if match is not None and req.request_id:
                used.add(req.request_id)
                out.append(merge_classified(req, match))
            else:
                out.append(req)
        out.extend(r for r in self.execution if not r.request_id or r.request_id not in used)
        return out


_message = attrgetter("message")
_timestamp = attrgetter("timestamp")
_first_char = itemgetter(slice(0, 1))
_JSON_ONLY = {"{"}


#: A batch's events: a decoded payload's columns (LogEvents), or LogEvent objects.
Events = Sequence[LogEvent]


def _columns(events: Events) -> tuple[list[str], list[int | None]]:
    """A batch's messages and timestamps: a decoded payload's own columns (no LogEvent objects made),
    else read from its events."""
    if isinstance(events, LogEvents):
        return events.messages, events.timestamps
    return list(map(_message, events)), list(map(_timestamp, events))


def _merge_tallies(a: dict[tuple, RouteTally], b: dict[tuple, RouteTally]) -> dict[tuple, RouteTally]:
    out = dict(a)
    for key, tally in b.items():
        out[key] = out[key].merge(tally) if key in out else tally
    return out


def _distrust(record: AccessRecord, owner: ApiSettings | None) -> None:
    """A suspicious line keeps nothing that would become a dimension: its API and stage are its log
    group's (or unknown), its route unmatched."""
    record.api_id, record.stage = (owner.api_id, owner.stage) if owner is not None else (None, None)
    record.http_method = record.resource_path = record.route_key = None


class LogAnalyzer:
    """Feed it batches; `finish()` returns the Analysis. Keeps execution requests open across batches."""

    def __init__(self, config: EngineConfig | None = None, *, keep_successes: bool = True) -> None:
        """keep_successes=False is the analyzer's metrics-only mode: a successful request in a JSON
        access-log format is only tallied per route (count, latencies) instead of becoming a ClassifiedRequest,
        which is what most of the per-event time went to. Failed requests are classified in full either way.
        """
        self.config = config or EngineConfig()
        self.keep_successes = keep_successes
        self._assembler = ExecutionAssembler()
        self._analysis = Analysis()
        self._field_map = dict(self.config.field_map) or None
        self._settings_cache: dict[str | None, ApiSettings] = {}
        self._success_tallies: dict[tuple, RouteTally] = {}  # by route parts until finish()
        # Near-timeout thresholds (90 % of each API's integration timeout), for the fast path.
        self._near_for = {api_id: s.near_timeout_ms for api_id, s in self.config.apis.items()}
        self._near_for_default = self.config.default.near_timeout_ms
        self._gateway_groups: dict[str, bool] = {}  # log group -> holds API Gateway logs (see add_batch)

    # -- input ---------------------------------------------------------------------------------
    def add_rejection(self, rejection: Rejection) -> None:
        self._analysis.lines_unparsed[rejection.source] += 1
        if len(self._analysis.rejections) < MAX_KEPT_REJECTIONS:
            self._analysis.rejections.append(rejection)

    def add_batch(self, batch: LogBatch) -> None:
        """Parse and classify a batch: execution logs by their group's name, configured access-log groups
        and all-JSON batches as access lines, anything else line by line — unless the batch's group is
        another service's (account-policy mode), whose lines are only counted."""
        kind, log_group = batch.kind, batch.log_group
        if kind is LogKind.EXECUTION:
            self._add_execution_batch(batch.events, log_group, blank_separates=batch.origin in _TEXT_ORIGINS)
        elif kind is LogKind.ACCESS or self.config.api_for_log_group(log_group) is not None:
            # A configured access-log group (GATEWATCH_APIS accessLogGroup) holds access lines only: no sniffing.
            self._add_access_events(batch.events, log_group, partial=batch.origin in _PARTIAL_ORIGINS)
        elif log_group and not self._holds_gateway_logs(log_group, batch.events):
            self._set_aside(log_group, len(batch.events))
        elif set(map(_first_char, _columns(batch.events)[0])) == _JSON_ONLY:
            # Every line is a JSON object: access lines, all of them (an account-level subscription's
            # access-log groups come this way); no line can be execution text or its continuation.
            self._add_access_events(batch.events, log_group)
        else:
            self._add_mixed_events(batch.events, log_group, blank_separates=batch.origin in _TEXT_ORIGINS)

    def _holds_gateway_logs(self, log_group: str, events: Events) -> bool:
        """Decided once per log group and run (gatewatch.parse.log_groups): by name, else by its first lines."""
        known = self._gateway_groups.get(log_group)
        if known is None:
            messages = _columns(events)[0][: 4 * SNIFF_LINES]
            known = holds_gateway_logs(log_group, messages, self._field_map)
            if len(self._gateway_groups) < MAX_REMEMBERED_GROUPS:
                self._gateway_groups[log_group] = known
        return known

    def _set_aside(self, log_group: str, lines: int) -> None:
        """Lines of another service's log group: counted under Source "other", never read as API logs."""
        analysis = self._analysis
        analysis.lines_unparsed[SOURCE_OTHER] += lines
        if log_group in analysis.other_log_groups or len(analysis.other_log_groups) < MAX_NAMED_OTHER_GROUPS:
            analysis.other_log_groups[log_group] += lines

    def _add_execution_batch(self, events: Events, log_group: str | None, *, blank_separates: bool = False) -> None:
        ids = execution_log_group_ids(log_group)
        api_id, stage = ids if ids else (None, None)
        add = self._assembler.add_message
        add_request = self._add_execution_request
        messages, timestamps = _columns(events)
        counted = len(messages)
        for message, timestamp in zip(messages, timestamps, strict=True):
            if blank_separates and not message.strip():  # a blank line of a text file: a boundary, not a line
                counted -= 1
                for request in self._assembler.end_anonymous():
                    add_request(request)
                continue
            for request in add(message, timestamp, log_group, api_id, stage):
                add_request(request)
        if counted:
            self._analysis.lines_parsed[SOURCE_EXECUTION] += counted

    def _add_mixed_events(self, events: Events, log_group: str | None, *, blank_separates: bool = False) -> None:
        """Unknown kind (user-named access-log groups, text files): sniff each line.

        JSON/XML access lines take the fast path; a line that is neither, right after execution text, is
        a continuation of a multi-line execution message (a pretty-printed body in a text export). Access
        entries are independent of each other, so they are collected and parsed in one tight loop.
        """
        access_events: list[LogEvent] = []
        collect = access_events.append
        previous_was_execution = False
        for event in events:
            message = event.message
            first = message[:1]
            if (first == "{" or first == "<") and not previous_was_execution:
                collect(event)
            elif looks_like_execution_line(message) or (
                previous_was_execution and message.strip() and not looks_like_access_line(message)
            ):
                previous_was_execution = True
                self._add_execution_event(event, log_group, None, None)
            elif message.strip():
                previous_was_execution = False
                collect(event)
            elif previous_was_execution:  # a blank line in execution text: one request without an id ends
                if not blank_separates:
                    self._analysis.lines_parsed[SOURCE_EXECUTION] += 1
                for request in self._assembler.end_anonymous():
                    self._add_execution_request(request)
            elif not blank_separates:  # an empty event (a null message): counted, never silently gone
                self.add_rejection(Rejection(SOURCE_INPUT, REASON_EMPTY_MESSAGE, "", "", log_group or ""))
        if access_events:
            self._add_access_events(access_events, log_group)

    def _settings(self, api_id: str | None) -> ApiSettings:
        settings = self._settings_cache.get(api_id)
        if settings is None:
            settings = self._settings_cache[api_id] = self.config.for_api(api_id)
        return settings

    def _add_access_events(self, events: Events, log_group: str | None, *, partial: bool = False) -> None:
        """The hot loop of the Lambda: parse and classify every access entry of a batch."""
        analysis = self._analysis
        field_sets = analysis.access_field_sets
        append = analysis.access.append
        settings_cache = self._settings_cache
        owner = self.config.api_for_log_group(log_group) if self.config.apis else None
        parsed = recovered = suspicious = 0
        field_map = self._field_map
        records: list[AccessRecord | Rejection]
        if self.keep_successes:
            records = [
                parse_access_line(
                    e.message, field_map=field_map, timestamp=e.timestamp, partial=partial, log_group=log_group
                )
                for e in events
            ]
        else:
            records, tallied = self._tally_successes(events, owner, log_group)
            parsed += tallied
        for record in records:
            if isinstance(record, Rejection):
                if log_group and not record.origin:
                    record = Rejection(record.source, record.reason, record.sample, record.detail, log_group)
                self.add_rejection(record)
                continue
            parsed += 1
            key = (record.format, record.fields_present)
            field_sets[key] = field_sets.get(key, 0) + 1
            if record.recovered:
                recovered += 1
            if record.suspicious:
                suspicious += 1
                _distrust(record, owner)
            elif owner is not None:
                record.api_id, record.stage = owned(record.api_id, record.stage, owner.api_id, owner.stage)
            settings = settings_cache.get(record.api_id) or self._settings(record.api_id)
            classified = classify_access(record, settings, settings.name, log_group)
            if record.suspicious:
                classified.trusted = False
            append(classified)
        if suspicious:
            analysis.lines_suspicious[SOURCE_ACCESS] += suspicious
        if parsed:
            analysis.lines_parsed[SOURCE_ACCESS] += parsed
        analysis.recovered_access_lines += recovered

    def _tally_successes(
        self, events: Events, owner: ApiSettings | None, log_group: str | None
    ) -> tuple[list[AccessRecord | Rejection], int]:
        """The metrics-only fast path: tally successful JSON lines per route; return the rest, fully parsed."""
        field_map, field_sets = self._field_map, self._analysis.access_field_sets
        messages, timestamps = _columns(events)
        owner_api, owner_stage = (owner.api_id, owner.stage) if owner is not None else (None, None)
        default_near = self._near_for_default
        if messages and messages[0][:1] == "{":  # JSON lines (a line that is not goes to the full path)
            layouts = layouts_for(field_map, log_group)

            def read(obj: dict[str, Any] | None, line: str, timestamp: int | None) -> AccessRecord | Rejection:
                return read_json_access(obj, line, field_map, timestamp, log_group)

            pending: list[AccessRecord | Rejection] = []
            tallied = 0
            for minute, start, end in minute_runs(timestamps):
                run, times = messages[start:end], timestamps[start:end]  # a delivery is most often one run
                rest, counts = tally_json_lines(
                    run,
                    times,
                    minute=minute,
                    read=read,
                    layouts=layouts,
                    tallies=self._success_tallies,
                    near_for=self._near_for,
                    default_near=default_near,
                    owner_api=owner_api,
                    owner_stage=owner_stage,
                )
                for present, n in counts.items():
                    key = ("json", present)
                    field_sets[key] = field_sets.get(key, 0) + n
                    tallied += n
                pending += rest
            return pending, tallied
        records: list[AccessRecord | Rejection] = []
        tallied = 0
        for message, timestamp in zip(messages, timestamps, strict=True):
            record = parse_access_line_or_summary(
                message, field_map=field_map, timestamp=timestamp, log_group=log_group
            )
            if not isinstance(record, AccessSummary):
                records.append(record)
                continue
            tallied += 1
            key = (record.format, record.fields_present)
            field_sets[key] = field_sets.get(key, 0) + 1
            tally_summary(self._success_tallies, record, self._near_for, default_near, owner_api, owner_stage)
        return records, tallied

    def _add_execution_event(
        self, event: LogEvent, log_group: str | None, api_id: str | None, stage: str | None
    ) -> None:
        self._analysis.lines_parsed[SOURCE_EXECUTION] += 1
        for request in self._assembler.add(event, log_group=log_group, api_id=api_id, stage=stage):
            self._add_execution_request(request)

    def _add_execution_request(self, request: ExecutionRequest) -> None:
        settings = self._settings(request.api_id)
        classified = classify_execution(request, settings, api_name=settings.name)
        if request.status is None and classified.evidence_rank == 0:
            # No outcome and no cause: nothing to say about it (its end is in another batch or file).
            self._analysis.incomplete_execution_requests += 1
            return
        self._analysis.execution.append(classified)

    # -- output --------------------------------------------------------------------------------
    def take_requests(self) -> tuple[list[ClassifiedRequest], list[ClassifiedRequest]]:
        """The access and execution requests classified so far, handed over and forgotten here (a caller
        that streams its output keeps memory bounded; the counts stay for `finish`)."""
        analysis = self._analysis
        access, execution = analysis.access, analysis.execution
        analysis.access, analysis.execution = [], []
        return access, execution

    def finish(self, *, drain_incomplete: bool) -> Analysis:
        """Close the run. With drain_incomplete, requests whose last line never came are classified too."""
        if drain_incomplete:
            for request in self._assembler.drain():
                self._add_execution_request(request)
        else:
            self._analysis.incomplete_execution_requests += self._assembler.pending
        analysis, self._analysis = self._analysis, Analysis()
        analysis.successes = route_tallies(self._success_tallies, lambda api_id: self._settings(api_id).name)
        self._success_tallies = {}
        return analysis


def analyze(
    items: Iterable[LogBatch | Rejection], config: EngineConfig | None = None, *, drain_incomplete: bool = True
) -> Analysis:
    """Convenience: run LogBatch/Rejection items through a fresh LogAnalyzer."""
    analyzer = LogAnalyzer(config)
    for item in items:
        if isinstance(item, Rejection):
            analyzer.add_rejection(item)
        else:
            analyzer.add_batch(item)
    return analyzer.finish(drain_incomplete=drain_incomplete)


__all__ = ["Analysis", "LogAnalyzer", "analyze"]
