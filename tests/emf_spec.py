"""A validator for CloudWatch Embedded Metric Format documents, written from the EMF specification.

Why: CloudWatch drops invalid EMF silently (toolchain notes) — a test that only checks "something was
printed" would pass while no metric ever exists. Rules checked (EMF specification, "Specification:
Embedded metric format" in the CloudWatch user guide):

- the root is a JSON object with an `_aws` member: `Timestamp` (integer epoch milliseconds) and
  `CloudWatchMetrics`, a non-empty array of metric directives;
- a directive has `Namespace` (1-255 characters, not only whitespace), `Dimensions` (an array of
  dimension sets, each an array of ≤ 30 unique string keys, every key present at the root with a
  non-empty string value ≤ 1024 characters) and `Metrics` (≤ 100 metric definitions);
- a metric definition has `Name` (1-255 characters, unique in the directive), an optional `Unit`
  from CloudWatch's unit list and an optional `StorageResolution` of 1 or 60; its root member is a
  number or a non-empty array of ≤ 100 numbers (finite; booleans are not numbers).
On top, `contract_problems` checks the gatewatch metric contract (DESIGN §5): metric names, units,
dimension keys, and no request-identifying dimension.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

VALID_UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)
MAX_DIMENSIONS_PER_SET = 30
MAX_METRICS_PER_DIRECTIVE = 100
MAX_VALUES_PER_METRIC = 100
MAX_DIMENSION_VALUE_CHARS = 1024
MAX_NAME_CHARS = 255

# gatewatch's metric contract (DESIGN §5)
CONTRACT_UNITS = {
    "Requests": "Count",
    "Errors4xx": "Count",
    "Errors5xx": "Count",
    "Errors": "Count",
    "NearTimeout": "Count",
    "Causes": "Count",
    "LinesParsed": "Count",
    "LinesUnparsed": "Count",
    "Latency": "Milliseconds",
    "IntegrationLatency": "Milliseconds",
    "GatewayOverhead": "Milliseconds",
}
CONTRACT_DIMENSION_SETS = {
    ("Api", "Stage"),
    ("Api", "Stage", "Route"),
    ("Api", "Stage", "Category"),
    ("Api", "Stage", "StatusCode"),
    ("Source",),
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= MAX_NAME_CHARS and bool(value.strip())


def emf_problems(doc: Any) -> list[str]:
    """Every way `doc` breaks the EMF specification ([] when it is valid)."""
    if not isinstance(doc, dict):
        return ["root is not a JSON object"]
    aws = doc.get("_aws")
    if not isinstance(aws, dict):
        return ["_aws is missing or not an object"]
    problems: list[str] = []
    ts = aws.get("Timestamp")
    if not isinstance(ts, int) or isinstance(ts, bool):
        problems.append(f"_aws.Timestamp must be an integer (epoch ms), got {ts!r}")
    elif not 10**12 <= ts < 10**14:
        problems.append(f"_aws.Timestamp {ts} is not epoch milliseconds")
    directives = aws.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return problems + ["_aws.CloudWatchMetrics must be a non-empty array"]
    for d_index, directive in enumerate(directives):
        where = f"CloudWatchMetrics[{d_index}]"
        if not isinstance(directive, dict):
            problems.append(f"{where} is not an object")
            continue
        if not _is_name(directive.get("Namespace")):
            problems.append(f"{where}.Namespace must be 1-255 characters, got {directive.get('Namespace')!r}")
        dimension_sets = directive.get("Dimensions")
        if not isinstance(dimension_sets, list):
            problems.append(f"{where}.Dimensions must be an array of dimension sets")
            dimension_sets = []
        for s_index, dim_set in enumerate(dimension_sets):
            swhere = f"{where}.Dimensions[{s_index}]"
            if not isinstance(dim_set, list):
                problems.append(f"{swhere} is not an array")
                continue
            if len(dim_set) > MAX_DIMENSIONS_PER_SET:
                problems.append(f"{swhere} has {len(dim_set)} keys (max {MAX_DIMENSIONS_PER_SET})")
            if len(set(map(str, dim_set))) != len(dim_set):
                problems.append(f"{swhere} repeats a key")
            for key in dim_set:
                if not _is_name(key):
                    problems.append(f"{swhere}: dimension key {key!r} is not a valid name")
                    continue
                value = doc.get(key)
                if not isinstance(value, str):
                    problems.append(f"{swhere}: dimension {key} needs a string value at the root, got {value!r}")
                elif not value.strip() or len(value) > MAX_DIMENSION_VALUE_CHARS:
                    problems.append(f"{swhere}: dimension {key} value must be 1-{MAX_DIMENSION_VALUE_CHARS} characters")
        metrics = directive.get("Metrics")
        if not isinstance(metrics, list):
            problems.append(f"{where}.Metrics must be an array")
            continue
        if len(metrics) > MAX_METRICS_PER_DIRECTIVE:
            problems.append(f"{where}.Metrics has {len(metrics)} definitions (max {MAX_METRICS_PER_DIRECTIVE})")
        names: set[str] = set()
        for m_index, metric in enumerate(metrics):
            mwhere = f"{where}.Metrics[{m_index}]"
            if not isinstance(metric, dict) or not _is_name(metric.get("Name")):
                problems.append(f"{mwhere} needs a Name of 1-255 characters")
                continue
            name = metric["Name"]
            if name in names:
                problems.append(f"{mwhere}: metric {name} defined twice")
            names.add(name)
            if "Unit" in metric and metric["Unit"] not in VALID_UNITS:
                problems.append(f"{mwhere}: unit {metric['Unit']!r} is not a CloudWatch unit")
            if "StorageResolution" in metric and metric["StorageResolution"] not in (1, 60):
                problems.append(f"{mwhere}: StorageResolution must be 1 or 60")
            value = doc.get(name)
            if isinstance(value, list):
                if not value or len(value) > MAX_VALUES_PER_METRIC:
                    problems.append(f"{mwhere}: {name} has {len(value)} values (1-{MAX_VALUES_PER_METRIC} allowed)")
                if not all(_is_number(v) for v in value):
                    problems.append(f"{mwhere}: {name} values must all be numbers")
            elif not _is_number(value):
                problems.append(f"{mwhere}: {name} needs a number or an array of numbers at the root, got {value!r}")
    return problems


def contract_problems(doc: dict) -> list[str]:
    """Where a (spec-valid) document departs from gatewatch's metric contract."""
    problems = []
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        for dim_set in directive["Dimensions"]:
            if tuple(dim_set) not in CONTRACT_DIMENSION_SETS:
                problems.append(f"dimension set {dim_set} is not in the contract")
        for metric in directive["Metrics"]:
            expected = CONTRACT_UNITS.get(metric["Name"])
            if expected is None:
                problems.append(f"metric {metric['Name']} is not in the contract")
            elif metric.get("Unit") != expected:
                problems.append(f"metric {metric['Name']} has unit {metric.get('Unit')} instead of {expected}")
    return problems


def emf_documents(stdout: str) -> list[dict]:
    """The EMF documents among captured stdout lines (log lines are JSON too, but have no `_aws` root key)."""
    docs = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and "_aws" in parsed:
            docs.append(parsed)
    return docs


def assert_valid_emf(docs: Iterable[dict]) -> list[dict]:
    """Assert every document is valid EMF and within the contract; returns them as a list."""
    docs = list(docs)
    for doc in docs:
        problems = emf_problems(doc) or contract_problems(doc)
        assert not problems, f"invalid EMF document: {problems}\n{json.dumps(doc)[:500]}"
    return docs


def metric_total(docs: Iterable[dict], metric: str, dimensions: tuple[str, ...], **where: str) -> float:
    """Sum of a metric over the documents with exactly this dimension set (and these dimension values)."""
    total = 0.0
    for doc in docs:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            if [list(dimensions)] != directive["Dimensions"]:
                continue
            if not any(m["Name"] == metric for m in directive["Metrics"]):
                continue
            if any(doc.get(k) != v for k, v in where.items()):
                continue
            value = doc[metric]
            total += sum(value) if isinstance(value, list) else value
    return total


def metric_values(docs: Iterable[dict], metric: str, dimensions: tuple[str, ...], **where: str) -> list[float]:
    """All values a distribution metric carries over the documents with this dimension set."""
    out: list[float] = []
    for doc in docs:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            if (
                [list(dimensions)] == directive["Dimensions"]
                and any(m["Name"] == metric for m in directive["Metrics"])
                and all(doc.get(k) == v for k, v in where.items())
            ):
                value = doc[metric]
                out.extend(value if isinstance(value, list) else [value])
    return out
