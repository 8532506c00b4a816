"""Tiny helpers to load sample events and the real corpus (copied from ../shared/corpus into tests/events/corpus)."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests" / "events"
CORPUS = EVENTS / "corpus"
SAMPLES = ROOT / "samples"


def load_event(name: str) -> Any:
    """Load tests/events/<name> (JSON)."""
    return json.loads((EVENTS / name).read_text())


@cache
def corpus_access() -> tuple[dict, ...]:
    """The real access-log records (id, api, format, raw)."""
    return tuple(json.loads(line) for line in (CORPUS / "corpus_access.jsonl").read_text().splitlines() if line.strip())


@cache
def corpus_execution() -> tuple[dict, ...]:
    """The real execution-log entries (n, src, style, message)."""
    return tuple(
        json.loads(line) for line in (CORPUS / "corpus_execution.jsonl").read_text().splitlines() if line.strip()
    )


@cache
def s01_payloads() -> tuple[dict, ...]:
    """The four real decoded subscription payloads of S01 (execution logs)."""
    raw = json.loads((CORPUS / "payloads" / "S01_cwl_subscription_payloads_apigw_execution_decoded.json").read_text())
    return tuple(x["decoded_payload"] for x in raw)


def encode_payload(payload: dict | bytes, *, compression: str = "gzip") -> str:
    """base64(gzip(json)) exactly as CloudWatch Logs delivers `awslogs.data` (zlib optional)."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    packed = gzip.compress(data) if compression == "gzip" else zlib.compress(data)
    return base64.b64encode(packed).decode()


def subscription_event(payload: dict, *, compression: str = "gzip") -> dict:
    return {"awslogs": {"data": encode_payload(payload, compression=compression)}}


def subscription_payload(
    log_group: str,
    messages: Iterable[str],
    *,
    start_ms: int = 1764075600000,
    log_stream: str = "0123456789abcdef0123456789abcdef",
    owner: str = "111122223333",
    timestamps: Sequence[int] | None = None,
) -> dict:
    """A DATA_MESSAGE payload carrying `messages` as log events (ids increasing; timestamps increasing by
    1 ms from `start_ms`, or the given ones)."""
    messages = list(messages)
    times = list(timestamps) if timestamps is not None else [start_ms + i for i in range(len(messages))]
    return {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["gatewatch"],
        "logEvents": [
            {
                "id": f"{37000000000000000000000000000000000000000000000000000000 + i}",
                "timestamp": times[i],
                "message": m,
            }
            for i, m in enumerate(messages)
        ],
    }


def kinesis_event(payloads: Iterable[dict]) -> dict:
    """A Kinesis Data Streams event whose records each carry one gzip'ed CloudWatch Logs payload."""
    records = []
    for i, p in enumerate(payloads):
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": f"{i:032x}",
                    "sequenceNumber": f"4963505228952972555329140552150487023321948971533231{i:04d}",
                    "data": encode_payload(p),
                    "approximateArrivalTimestamp": 1668093033.744,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:4963505228952972555329140552150487023321948971533231{i:04d}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::111122223333:role/gatewatch",
                "awsRegion": "eu-west-1",
                "eventSourceARN": "arn:aws:kinesis:eu-west-1:111122223333:stream/gatewatch",
            }
        )
    return {"Records": records}


def access_corpus_lines() -> list[str]:
    """Each real access record as the single line API Gateway would log (pretty-printed sources flattened)."""
    return [r["raw"].replace("\n", " ") for r in corpus_access()]


@cache
def corpus_labeled() -> tuple[dict, ...]:
    """The real labeled requests (id, src, api, kind, shape, raw, expected, why, url, retrieved, notes)."""
    return tuple(
        json.loads(line) for line in (CORPUS / "corpus_labeled.jsonl").read_text().splitlines() if line.strip()
    )


def delivered_at(event: Any) -> float:
    """When CloudWatch would have delivered this event: a minute after its newest log event (epoch
    seconds), else now. Handler tests run at that time so old fixtures stay inside CloudWatch's metric
    window (14 days), as they were when the logs were written."""
    import time

    from gatewatch.ingest.lambda_events import batches_from_lambda_event
    from gatewatch.models import LogBatch

    newest = [
        max(filter(None, (e.timestamp for e in item.events)), default=None)
        for _, item in batches_from_lambda_event(event)
        if isinstance(item, LogBatch)
    ]
    found = [t for t in newest if t is not None]
    return (max(found) + 60_000) / 1000 if found else time.time()
