"""The analyzer's immediate-alert message: versioned JSON on the SNS topic (DESIGN §6, §8).

Schema `gatewatch.alert/v1` (additive changes only within v1):

    {
      "schema": "gatewatch.alert/v1",
      "alert_id": "<api>|<stage>|<category>|<window start epoch s>",  # the dedupe key's parts
                       # <api>: the id, else name=<name>, else log=<log group>; parts percent-encoded
      "api_id": "a1b2c3", "api_name": "orders" | null, "stage": "prod",   # id, else name, else "unknown"
      "category": "MALFORMED_RESPONSE", "title": "...", "retry": "no", "blame": "backend",
      "count": 12,                                   # requests of this category in the batch
      "first_seen": "2026-11-25T14:00:01Z", "last_seen": "2026-11-25T14:00:09Z",
      "routes": ["POST /orders"],                    # up to 10
      "samples": [{"request_id": "...", "route": "...", "status": 502,
                   "timestamp": "...Z", "evidence": "..."}],   # up to 5
      "log_group": "API-Gateway-Execution-Logs_a1b2c3/prod",
      "insights_query": "fields @timestamp, @message | filter ...",
      "account": "111122223333" | null, "region": "eu-west-1" | null
    }

The notifier recognises it by `schema`; anything it does not know it shows generically.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, TypeGuard

from gatewatch.alerts.coerce import optional_int, optional_str
from gatewatch.constants import ALERT_SCHEMA_VERSION


@dataclass(frozen=True, slots=True)
class AlertSample:
    request_id: str | None
    route: str
    status: int | None
    timestamp: str | None
    evidence: str


@dataclass(frozen=True)
class AnalyzerAlert:
    alert_id: str
    api_id: str | None
    api_name: str | None
    stage: str | None
    category: str
    title: str
    retry: str | None
    blame: str | None
    count: int
    first_seen: str | None
    last_seen: str | None
    routes: tuple[str, ...] = ()
    samples: tuple[AlertSample, ...] = ()
    log_group: str | None = None
    insights_query: str | None = None
    account: str | None = None
    region: str | None = None
    schema: str = field(default=ALERT_SCHEMA_VERSION)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["routes"] = list(self.routes)
        out["samples"] = [asdict(s) for s in self.samples]
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AnalyzerAlert:
        """Parse a received message; raises ValueError when it is not a v1 alert.

        Every field is read leniently (gatewatch.alerts.coerce): a count of `Infinity`, a status of
        "abc" or a route nested 900 lists deep reads as absent, never as an exception.
        """
        if not is_analyzer_alert(raw):
            raise ValueError("not a gatewatch.alert/v1 message")
        samples = tuple(
            AlertSample(
                request_id=optional_str(s.get("request_id")),
                route=optional_str(s.get("route") or "") or "",
                status=optional_int(s.get("status"), low=0, high=999),
                timestamp=optional_str(s.get("timestamp")),
                evidence=optional_str(s.get("evidence") or "") or "",
            )
            for s in _list(raw.get("samples"))
            if isinstance(s, Mapping)
        )
        return cls(
            alert_id=optional_str(raw.get("alert_id") or "") or "",
            api_id=optional_str(raw.get("api_id")),
            api_name=optional_str(raw.get("api_name")),
            stage=optional_str(raw.get("stage")),
            category=optional_str(raw.get("category") or "") or "",
            title=optional_str(raw.get("title") or "") or "",
            retry=optional_str(raw.get("retry")),
            blame=optional_str(raw.get("blame")),
            count=optional_int(raw.get("count"), low=0) or 0,
            first_seen=optional_str(raw.get("first_seen")),
            last_seen=optional_str(raw.get("last_seen")),
            routes=tuple(r for r in map(optional_str, _list(raw.get("routes"))) if r is not None),
            samples=samples,
            log_group=optional_str(raw.get("log_group")),
            insights_query=optional_str(raw.get("insights_query")),
            account=optional_str(raw.get("account")),
            region=optional_str(raw.get("region")),
            schema=optional_str(raw.get("schema")) or "",
        )


def _list(value: Any) -> list[Any]:
    """A JSON array field; anything else (a string, a number, an object) reads as empty."""
    return value if isinstance(value, list) else []


def is_analyzer_alert(raw: Any) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(raw, Mapping) and str(raw.get("schema", "")).startswith("gatewatch.alert/v1")
