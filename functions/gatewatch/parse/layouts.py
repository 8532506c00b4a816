"""JSON key layouts: for one format's keys, which key feeds which field — decided once, read typed.

A format's keys repeat on every line, so everything that depends only on the keys (alias resolution,
which of two aliases wins, `fields_present`, whether an object value could hide a field) is decided
once per layout, from a line parsed in full. A layout then reads lines two ways:

- typed (`summary_decoder`): a msgspec decoder into a Struct of just the nine fields a successful
  request's metrics need (status, api, stage, route parts, three latencies), renamed to this
  layout's keys. Unknown keys are skipped without building dicts or strings; a value that is not a
  scalar (an object, a list, a bool) fails the decode, and the line is read in full instead.
- generic (`read`, `summarize`): from a parsed dict, every fed field converted as `parse.values` says.

`quotes` is the number of `"` characters of a clean line of this layout (one with no escaped quote,
read in full and found free of duplicate keys). API Gateway does not escape values, so a value can
only add quotes, never remove them: a line with exactly this count has no injected key, and may be
read typed; any other line is read in full, where duplicate keys are found exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from gatewatch.models import AccessRecord, AccessSummary
from gatewatch.parse.fields import (
    ALIAS_TABLE,
    DEFAULTS,
    FIELD_INDEX,
    FORMAT_JSON,
    I_EXTENDED_ID,
    I_FORMAT,
    I_PRESENT,
    I_REQUEST_ID,
    I_STATUS,
    I_TIMESTAMP,
    FieldResolver,
    normal_form,
    record_from_slots,
    resolver_for,
)
from gatewatch.parse.values import CONVERT, int_value, latency_value, text_value

# AccessSummary's fields that come from the line, in order (then timestamp, format, fields_present).
SUMMARY_FIELDS = (
    "status",
    "api_id",
    "stage",
    "http_method",
    "resource_path",
    "route_key",
    "response_latency_ms",
    "integration_latency_ms",
    "authorizer_latency_ms",
)
#: The normal forms of the built-in keys that feed those fields (see JsonLayouts.risky_key).
_SUMMARY_ALIAS_NORMALS: frozenset[str] = frozenset(
    name for name, target in ALIAS_TABLE.items() if target[3] in SUMMARY_FIELDS
)
#: A key no JSON line can carry: the typed summary of a layout without a field reads it as absent.
_ABSENT_KEY = "\u2063gatewatch-absent-{}\u2063"
#: What a summary field may hold to be read typed; anything else fails the decode (the line is read in full).
_SCALAR = str | int | float | None

#: The nine summary values of one line, as the line has them (absent fields None; a missing key UNSET).
SummaryValues = tuple[Any, Any, Any, Any, Any, Any, Any, Any, Any]


def _summary_decoder(keys: tuple[str, ...], summary_keys: tuple[str | None, ...]) -> msgspec.json.Decoder[Any]:
    """A decoder into a Struct of exactly this layout's keys: the nine summary fields typed (a field the
    layout lacks reads as None), every other key kept raw, unread; an unknown key fails the decode.

    So a line decodes only when it has no key beyond this layout's: a line of another format with as
    many quotes (a key renamed, a route key instead of a resource path) is read in full instead. A
    key of the layout the line lacks reads as UNSET. Built with `msgspec.defstruct`: a type made from
    data, no source code generated.
    """
    summary_names = {key: f"f{n}" for n, key in enumerate(summary_keys) if key is not None}
    fields: list[tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    for n, key in enumerate(summary_keys):
        if key is None:  # renamed to a key no line has: always the default, absent
            fields.append((f"f{n}", None, None))
            rename[f"f{n}"] = _ABSENT_KEY.format(n)
    for n, key in enumerate(keys):
        name = summary_names.get(key)
        if name is not None:
            fields.append((name, _SCALAR | msgspec.UnsetType, msgspec.UNSET))
        else:
            name = f"k{n}"
            fields.append((name, msgspec.Raw, msgspec.Raw()))
        rename[name] = key
    fields.sort(key=_summary_first)
    struct = msgspec.defstruct(
        "AccessSummaryFields", fields, rename=rename, forbid_unknown_fields=True, gc=False, cache_hash=False
    )
    return msgspec.json.Decoder(struct)


def _summary_first(field: tuple[str, Any, Any]) -> tuple[int, int]:
    """Summary fields f0..f8 first, in their order (so the first nine values are the summary), then the rest."""
    name = field[0]
    return (0 if name[0] == "f" else 1, int(name[1:]))


class KeyLayout:
    """How to read one JSON key layout (see the module docstring)."""

    __slots__ = (
        "checked_at",
        "entries",
        "injected",
        "keys",
        "present",
        "quotes",
        "risky",
        "summary_decoder",
        "summary_keys",
        "template",
    )

    def __init__(
        self, keys: tuple[str, ...], entries: tuple[tuple[str, int, int], ...], risky: bool, injected: bool = False
    ) -> None:
        self.keys = keys
        # The keys of a known layout plus keys that feed a dimension or the status: what a caller's
        # unescaped value adds (`x","resourcePath":"/x`). Such a layout's lines are suspicious.
        self.injected = injected
        self.checked_at = 0  # the JsonLayouts generation `injected` was last decided at
        self.entries = entries  # (key, slot index, value kind), one per slot fed
        self.present = frozenset(_FIELD_NAME[index] for _key, index, _kind in entries)
        # A key of this layout that the summary does not read could, holding an object, flatten into a
        # key that feeds a summary field (`{"integration": {"latency": 5}}` -> integration.latency): such a
        # layout's lines are never read typed.
        self.risky = risky
        by_index = {index: key for key, index, _kind in entries}
        # The keys feeding AccessSummary (None where the layout lacks the field), in its field order.
        self.summary_keys: tuple[str | None, ...] = tuple(by_index.get(FIELD_INDEX[name]) for name in SUMMARY_FIELDS)
        self.summary_decoder = (
            _summary_decoder(keys, self.summary_keys)
            if self.summary_keys[0] is not None and not risky and not injected
            else None
        )
        self.quotes = -1  # the structural quote count, once a clean line of this layout was read in full
        template = list(DEFAULTS)
        template[I_FORMAT] = FORMAT_JSON
        template[I_PRESENT] = self.present
        self.template = template

    def learn_quotes(self, line: str) -> None:
        """Remember the quote count of a clean line (read in full, no duplicate key, no escaped quote)."""
        if self.quotes < 0 and self.summary_decoder is not None and '\\"' not in line:
            self.quotes = line.count('"')

    def read(self, obj: dict[str, Any], timestamp: int | None, *, partial: bool = False) -> AccessRecord | None:
        """The full record of a parsed line of this layout; None when it has no status and no request id —
        unless `partial` (a query's projection, a pasted fragment) and it carries an error's evidence."""
        values = self.template.copy()
        for key, index, kind in self.entries:
            value = obj[key]
            if not kind and value.__class__ is str:
                if value != "-" and value:
                    values[index] = value
            else:
                values[index] = CONVERT[kind](value)
        values[I_TIMESTAMP] = timestamp
        anonymous = values[I_STATUS] is None and values[I_REQUEST_ID] is None and values[I_EXTENDED_ID] is None
        if anonymous and not (partial and any(values[index] is not None for index in EVIDENCE_SLOTS)):
            return None
        return record_from_slots(values)

    def summarize(self, obj: dict[str, Any], timestamp: int | None) -> AccessSummary | None:
        """AccessSummary for a parsed 2xx/3xx line; None for anything else (which takes the full path).

        Raises TypeError for an object value in a field it reads: the full path flattens such a line,
        and another key may then feed the field."""
        keys = self.summary_keys
        if keys[0] is None:
            return None
        status = int_value(_scalar(obj[keys[0]]))
        if status is None or not 100 <= status < 400:
            return None
        api, stage, method, resource, route_key = (
            None if key is None else text_value(_scalar(obj[key])) for key in keys[1:6]
        )
        latency, integration, authorizer = (
            None if key is None else latency_value(_scalar(obj[key])) for key in keys[6:9]
        )
        return AccessSummary(
            status,
            api,
            stage,
            method,
            resource,
            route_key,
            latency,
            integration,
            authorizer,
            timestamp,
            FORMAT_JSON,
            self.present,
        )


def _scalar(value: Any) -> Any:
    if value.__class__ is dict:
        raise TypeError("an object value: the full path reads this line")
    return value


_FIELD_NAME = {index: name for name, index in FIELD_INDEX.items()}
#: Fields that say why a request failed: a row of a query's projection or a pasted fragment that carries
#: one is a request even without a status or a request id.
EVIDENCE_SLOTS = tuple(
    FIELD_INDEX[name]
    for name in ("error_response_type", "error_message", "integration_error", "authorizer_error", "waf_response_code")
)
#: Fields whose values API Gateway makes itself: no caller's text can follow them in a line. Anything
#: else (the user agent, the raw path, error messages, keys no alias knows) may carry pasted keys.
_TRUSTED_FIELDS = frozenset(
    {
        "request_id",
        "extended_request_id",
        "api_id",
        "stage",
        "http_method",
        "resource_path",
        "route_key",
        "status",
        "protocol",
        "response_length",
        "request_time",
        "request_time_epoch_ms",
        "integration_status",
        "integration_service_status",
        "integration_latency_ms",
        "response_latency_ms",
        "authorizer_latency_ms",
        "authorizer_status",
        "waf_response_code",
        "event_type",
        "connection_id",
        "api_key_id",
    }
)
#: The fields whose values become metric dimensions or decide the status.
_DIMENSION_SLOTS = frozenset(
    FIELD_INDEX[name] for name in ("status", "api_id", "stage", "http_method", "resource_path", "route_key")
)

_MAX_LAYOUTS = 256
_MAX_LAYOUT_KEYS = 256
_MAX_RISKY_CACHE = 4096


class JsonLayouts:
    """The key layouts of one field map's JSON lines, cached: `layout_for(obj)` is one tuple compare
    for consecutive lines of one format."""

    __slots__ = (
        "_generation",
        "_last",
        "_layouts",
        "_risky",
        "_summary_exact",
        "_summary_normals",
        "resolver",
        "scoped",
    )

    def __init__(self, resolver: FieldResolver, *, scoped: bool = False) -> None:
        self.resolver = resolver
        # The layouts of one log group (one format): only then may a layout that extends another be
        # read as forged. Lines without a group (a file, a paste) may mix the formats of many APIs.
        self.scoped = scoped
        field_map = resolver.field_map
        # What a flattened key must start with to feed a summary field (see risky_key).
        self._summary_normals = _SUMMARY_ALIAS_NORMALS | {
            normal_form(k) for k, t in field_map.items() if t in SUMMARY_FIELDS
        }
        self._summary_exact = tuple(k for k, t in field_map.items() if t in SUMMARY_FIELDS)
        self._risky: dict[str, bool] = {}
        self._layouts: dict[tuple[str, ...], KeyLayout] = {}
        self._last: KeyLayout | None = None
        self._generation = 0  # counts the layouts learned: a layout's `injected` is decided again after one

    def risky_key(self, key: str) -> bool:
        """Could an object under `key` flatten into a key that feeds a summary field (status, route,
        latencies)? `integration` can (integration.latency), `$context` can (anything), `user` cannot."""
        risky = self._risky.get(key)
        if risky is None:
            prefix = normal_form(key + ".")
            risky = (
                not prefix
                or any(t.startswith(prefix) for t in self._summary_normals)
                or any(k.startswith(key + ".") for k in self._summary_exact)
            )
            if len(self._risky) >= _MAX_RISKY_CACHE:
                self._risky.clear()
            self._risky[key] = risky
        return risky

    def _injected(self, keys: tuple[str, ...], entries: tuple[tuple[str, int, int], ...]) -> bool:
        """Is this a known layout with keys inserted right after a value a caller controls, among them a
        key that feeds a dimension or the status? That is the shape of `x","resourcePath":"/x` pasted into
        a user agent — a key the format lacks, so no key is duplicated."""
        if not self.scoped:
            return False
        fed = {key: index for key, index, _kind in entries}
        for known in self._layouts.values():
            inserted = _inserted_run(known.keys, keys)
            if inserted is None:
                continue
            at, run = inserted
            controlled = at > 0 and known_field(self.resolver, known.keys[at - 1]) not in _TRUSTED_FIELDS
            if controlled and any(fed.get(key) in _DIMENSION_SLOTS for key in run):
                return True
        return False

    def layout_for(self, obj: Mapping[str, Any]) -> KeyLayout:
        """The layout of a parsed line's keys (made once per distinct key tuple, bounded).

        Whether a layout is `injected` depends on the layouts known: one seen before the clean layout it
        extends is decided again once that one is known (and is then injected for good), so the order in
        which a caller's lines arrive cannot make a forged layout trusted."""
        keys = tuple(obj)
        last = self._last
        if last is not None and keys == last.keys and last.checked_at == self._generation:
            return last  # consecutive lines share a layout
        layout = self._layouts.get(keys)
        if layout is None:
            chosen = self.resolver.choose(keys)
            entries = tuple((key, target[0], target[1]) for key, target in chosen.values())
            read = {key for key, _index, _kind in entries}
            risky = any(self.risky_key(key) for key in keys if key not in read)
            layout = KeyLayout(keys, entries, risky, self._injected(keys, entries))
            if len(keys) <= _MAX_LAYOUT_KEYS:
                if len(self._layouts) >= _MAX_LAYOUTS:
                    self._layouts.clear()
                self._layouts[keys] = layout
                self._generation += 1
        elif layout.checked_at != self._generation and not layout.injected and self._injected(keys, layout.entries):
            layout.injected = True
            layout.summary_decoder = None  # never read typed again
        layout.checked_at = self._generation
        self._last = layout
        return layout


def _inserted_run(known: tuple[str, ...], keys: tuple[str, ...]) -> tuple[int, tuple[str, ...]] | None:
    """(position, keys) when `keys` is `known` with one contiguous run of keys inserted, else None."""
    extra = len(keys) - len(known)
    if extra <= 0:
        return None
    at = 0
    while at < len(known) and keys[at] == known[at]:
        at += 1
    if keys[at + extra :] != known[at:]:
        return None
    return at, keys[at : at + extra]


def known_field(resolver: FieldResolver, key: str) -> str | None:
    """The canonical field a key feeds, or None for a key no alias knows."""
    target = resolver.resolve(key)
    return target[3] if target is not None else None


#: One layout cache per (field map, log group): a log group holds one format, so what one group's lines
#: teach (a quote count, the clean layout a forged one extends) never judges another group's lines.
_LAYOUTS: dict[tuple[int, str | None], JsonLayouts] = {}
_MAX_SCOPES = 256


def layouts_for(field_map: Mapping[str, str] | None, log_group: str | None = None) -> JsonLayouts:
    """The layout cache of a field map and log group (reused across lines and batches)."""
    if not field_map and log_group is None:
        return _DEFAULT_LAYOUTS
    resolver = resolver_for(field_map)
    key = (id(resolver), log_group)
    layouts = _LAYOUTS.get(key)
    if layouts is None or layouts.resolver is not resolver:
        if len(_LAYOUTS) >= _MAX_SCOPES:
            _LAYOUTS.clear()
        layouts = _LAYOUTS[key] = JsonLayouts(resolver, scoped=log_group is not None)
    return layouts


_DEFAULT_LAYOUTS = JsonLayouts(resolver_for(None))


def forget_layouts() -> None:
    """Forget every learned layout, as a new execution environment starts (tests compare two ways of
    reading one delivery from the same state; layouts learned by one would otherwise teach the other)."""
    global _DEFAULT_LAYOUTS
    _LAYOUTS.clear()
    _DEFAULT_LAYOUTS = JsonLayouts(resolver_for(None))


def json_layout(obj: Mapping[str, Any], field_map: Mapping[str, str] | None = None) -> KeyLayout:
    """The layout of a JSON object's keys (cached): `summary_keys`, `present`, `risky`, `read`, `summarize`."""
    return layouts_for(field_map).layout_for(obj)
