"""Attacks on the analyzer, through its public handler: forged fields, crafted lines, bombs.

API Gateway does not escape `$context` values, so a caller writes part of every access line. Each test
sends what an attacker (or a broken client) can send and checks what a user would notice: no crash,
nothing lost, no forged Api/Stage/Route, no alert from a forged line, bounded memory and CPU.
Memory and CPU are measured in a fresh interpreter (ru_maxrss, user+system time) so the test process
does not count.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
import time
import zlib

import pytest

from analyzer import handler
from gatewatch.constants import MAX_LATENCY_MS
from gatewatch.parse.layouts import forget_layouts
from tests.emf_spec import emf_documents, metric_total
from tests.functional.test_analyzer_alerts_moto import aws, clock, published  # noqa: F401  (fixtures)
from tests.functional.test_analyzer_handler import ENV_TO_CLEAR
from tests.helpers import ROOT, delivered_at, subscription_event, subscription_payload

ACCESS_GROUP = "/aws/apigateway/orders-prod-access"
APIS = json.dumps([{"apiId": "a1b2c3d4e5", "name": "orders", "stage": "prod", "accessLogGroup": ACCESS_GROUP}])
MAX_RSS_MB = 300
MAX_CPU_S = 10


def access_line(i: int, *, status: str = "200", user_agent: str = "curl/8.4.0", latency: str = "41") -> str:
    """An access line of the recommended format, values pasted in unescaped as API Gateway does."""
    return (
        f'{{"requestId":"6f1c8a2e-0000-4000-8000-{i:012d}","apiId":"a1b2c3d4e5","stage":"prod",'
        f'"httpMethod":"GET","resourcePath":"/orders/{{id}}","status":"{status}",'
        f'"responseLatency":"{latency}","integrationLatency":"35","userAgent":"{user_agent}",'
        f'"integrationError":"-","error.responseType":"-"}}'
    )


def run_handler(
    lines: list[str], capsys, *, group: str = ACCESS_GROUP, timestamps: list[int] | None = None
) -> tuple[list[dict], list[dict]]:
    """The handler on one subscription delivery; returns (EMF documents, structured log lines)."""
    handler.logger.registered_handler.stream = sys.stdout
    event = subscription_event(subscription_payload(group, lines, timestamps=timestamps))
    handler.clock = lambda: delivered_at(event)  # at the logs' own time
    try:
        handler.lambda_handler(event, _Context())
    finally:
        handler.clock = time.time
    out = capsys.readouterr().out
    logs = [json.loads(line) for line in out.splitlines() if line.startswith('{"level"')]
    return emf_documents(out), logs


class _Context:
    function_name = "gatewatch-analyzer"
    memory_limit_in_mb = 512
    aws_request_id = "hostile"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:111122223333:function:gatewatch-analyzer"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def configured(monkeypatch):
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GATEWATCH_APIS", APIS)
    handler.reset_state()
    yield
    handler.reset_state()


def dimension_values(docs: list[dict], name: str) -> set[str]:
    return {doc[name] for doc in docs if name in doc}


# -- forged fields ----------------------------------------------------------------------------------------

FORGERY = 'x","apiId":"evil{i}","stage":"s{i}","resourcePath":"/f/{i}","status":"502","integrationError":"Malformed Lambda proxy response'


def test_forged_keys_create_no_api_stage_route_and_no_alert(aws, monkeypatch, capsys):  # noqa: F811
    # GIVEN alerts on, the API configured, and 2,000 requests whose user agents paste in a second apiId,
    # stage, resource path, a 502 and a broken-deploy error — the line stays valid JSON, the forged keys last
    monkeypatch.setenv("GATEWATCH_APIS", APIS)
    handler.reset_state()
    lines = [access_line(i, user_agent=FORGERY.format(i=i)) for i in range(2000)]
    # WHEN the delivery is analysed
    docs, _logs = run_handler(lines, capsys)
    # THEN no forged value became a dimension, nothing alerted, and the lines are counted as suspicious
    assert dimension_values(docs, "Api") <= {"orders", "unknown"}
    assert dimension_values(docs, "Stage") <= {"prod", "unknown"}
    assert not any("/f/" in route for route in dimension_values(docs, "Route"))
    assert published(aws) == []
    assert metric_total(docs, "LinesSuspicious", ("Source",), Source="access") == 2000
    # AND every request is still counted once, under its log group's API, without the forged 502
    assert metric_total(docs, "Requests", ("Api", "Stage"), Api="orders", Stage="prod") == 2000
    assert metric_total(docs, "Errors5xx", ("Api", "Stage"), Api="orders", Stage="prod") == 0
    # AND a handful of dimension combinations, not one per forged value (documents: one per 100 latencies)
    assert len({tuple((k, d[k]) for k in ("Api", "Stage", "Route", "Category", "Source") if k in d) for d in docs}) < 8
    assert len(docs) <= 2 * 2000 // 100 + 8


def test_a_key_the_format_lacks_pasted_after_a_caller_value_names_no_route(configured, capsys):
    # GIVEN a format without resourcePath/routeKey (a route cannot come from it), clean lines first,
    # then lines whose user agent adds a routeKey right after itself
    def line(i: int, user_agent: str) -> str:
        return (
            f'{{"requestId":"r{i:06d}","apiId":"a1b2c3d4e5","stage":"prod","httpMethod":"GET","status":"200",'
            f'"userAgent":"{user_agent}","responseLatency":"12"}}'
        )

    lines = [line(i, "curl/8.4.0") for i in range(50)] + [
        line(50 + i, f'x","routeKey":"GET /forged/{i}') for i in range(500)
    ]
    # WHEN analysed  THEN no route named by a caller exists, and the lines are counted
    docs, _ = run_handler(lines, capsys)
    assert not any("forged" in route for route in dimension_values(docs, "Route"))
    assert metric_total(docs, "Requests", ("Api", "Stage"), Api="orders", Stage="prod") == 550
    assert metric_total(docs, "LinesSuspicious", ("Source",), Source="access") == 500


def test_forged_lines_that_arrive_before_the_clean_format_do_not_stay_trusted(configured, capsys):
    # GIVEN a fresh environment whose first lines are forged (a key pasted after the user agent), then
    # the format's clean lines, then the same forgery again
    forget_layouts()

    def line(i: int, user_agent: str) -> str:
        return (
            f'{{"requestId":"r{i:06d}","apiId":"a1b2c3d4e5","stage":"prod","httpMethod":"GET","status":"200",'
            f'"userAgent":"{user_agent}","responseLatency":"12"}}'
        )

    forged = [line(i, f'x","routeKey":"GET /forged/{i}') for i in range(3)]
    clean = [line(10 + i, "curl/8.4.0") for i in range(50)]
    again = [line(100 + i, f'x","routeKey":"GET /forged/{100 + i}') for i in range(500)]
    # WHEN analysed (one delivery)
    docs, _ = run_handler(forged + clean + again, capsys)
    # THEN once the clean format is known the forged layout is recognised: every later forged line is
    # suspicious and names no route; only the lines before it (nothing to compare with yet) could
    forged_routes = [route for route in dimension_values(docs, "Route") if "forged" in route]
    assert len(forged_routes) <= len(forged)
    assert metric_total(docs, "LinesSuspicious", ("Source",), Source="access") >= len(again)
    assert metric_total(docs, "Requests", ("Api", "Stage"), Api="orders", Stage="prod") == 553


def test_raw_paths_never_become_routes(configured, capsys):
    # GIVEN CLF lines that log the raw path ($context.path) where the console's default has the template
    lines = [
        f'203.0.113.{i % 250} - - [24/Jan/2026:17:52:06 +0000] "GET /users/{i}/orders/0;jsessionid=abc{i} HTTP/1.1" '
        f"200 35 6f1c8a2e-0000-4000-8000-{i:012d}"
        for i in range(300)
    ]
    docs, _ = run_handler(lines, capsys)
    # THEN the requests are counted, and no route carries a path a caller typed
    assert metric_total(docs, "Requests", ("Api", "Stage"), Api="orders", Stage="prod") == 300
    assert dimension_values(docs, "Route") <= {"UNMATCHED"}


def test_an_empty_object_as_the_first_line_loses_nothing(configured, capsys):
    # GIVEN a delivery whose first line is `{}` (the first a fresh container sees), then 1,000 good lines
    docs, _ = run_handler(["{}"] + [access_line(i) for i in range(1000)], capsys)
    # THEN the 1,000 requests are counted and the `{}` is one unparsed line
    assert metric_total(docs, "Requests", ("Api", "Stage"), Api="orders", Stage="prod") == 1000
    assert metric_total(docs, "LinesUnparsed", ("Source",), Source="access") == 1


@pytest.mark.parametrize("latency", ["1e300", "-5", "NaN", "Infinity", "99999999999999", "1e6"])
def test_latencies_outside_cloudwatchs_range_are_never_emitted(configured, capsys, latency):
    # GIVEN ordinary lines and lines with an absurd latency
    lines = [access_line(i) for i in range(20)] + [access_line(100 + i, latency=latency) for i in range(20)]
    docs, _ = run_handler(lines, capsys)
    # THEN every request counts, and every emitted latency is a real one (0 .. 24 h)
    assert metric_total(docs, "Requests", ("Api", "Stage"), Api="orders", Stage="prod") == 40
    values = [
        v
        for doc in docs
        for name in ("Latency", "IntegrationLatency", "GatewayOverhead")
        for v in (doc.get(name) if isinstance(doc.get(name), list) else [doc[name]] if name in doc else [])
    ]
    assert values and all(0 <= v <= MAX_LATENCY_MS for v in values)
    if latency == "1e6":  # 1,000 s: a real (if awful) latency, kept
        assert 1e6 in values


# -- bounded work: measured in a fresh interpreter ------------------------------------------------------

_MEASURE = textwrap.dedent(
    """
    import base64, gzip, json, os, resource, sys, time
    sys.path[:0] = [{functions!r}, {root!r}]
    os.environ["GATEWATCH_APIS"] = {apis!r}
    from analyzer import handler

    class Context:
        function_name = "gatewatch-analyzer"; memory_limit_in_mb = 512; aws_request_id = "bomb"
        invoked_function_arn = "arn:aws:lambda:eu-west-1:111122223333:function:gatewatch-analyzer"
        def get_remaining_time_in_millis(self): return 60000

    data = open(sys.argv[1], "rb").read()
    event = {{"awslogs": {{"data": base64.b64encode(data).decode()}}}}
    sink = open(os.devnull, "w")
    stdout, sys.stdout = sys.stdout, sink
    handler.logger.registered_handler.stream = sink
    handler.lambda_handler(event, Context())
    sys.stdout = stdout
    usage = resource.getrusage(resource.RUSAGE_SELF)  # CPU; the peak RSS from VmHWM (ru_maxrss survives exec)
    hwm_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    print(json.dumps({{"rss_mb": hwm_kb / 1024, "cpu_s": usage.ru_utime + usage.ru_stime}}))
    """
)


def measure_delivery(tmp_path, compressed: bytes) -> dict:
    """Peak RSS (MB) and CPU (s) of a fresh interpreter that runs the handler on this delivery."""
    assert len(compressed) <= 1024 * 1024  # the acceptance bound: any delivery up to 1 MB compressed
    path = tmp_path / "delivery.gz"
    path.write_bytes(compressed)
    script = _MEASURE.format(functions=str(ROOT / "functions"), root=str(ROOT), apis=APIS)
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _gzip_stream(block: bytes, times: int) -> bytes:
    """gzip of `block` repeated `times` times, made without holding the whole (bomb) text in memory."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(squeeze.compress(block) for _ in range(times)) + squeeze.flush()


def _payload(messages) -> bytes:
    return json.dumps(subscription_payload(ACCESS_GROUP, messages)).encode()


HOSTILE_DELIVERIES = {
    # a 291-byte line whose user agent opens 22 nested objects: once exponential in the JSON repair
    "nested-prefixes": lambda: gzip.compress(
        _payload(['{"requestId":"r1","status":"502","userAgent":"' + '{"a":' * 22 + '","x":"y"'] * 1000)
    ),
    # 1.3 million tiny events in under 0.2 MB compressed
    "tiny-events": lambda: gzip.compress(
        b'{"messageType":"DATA_MESSAGE","logGroup":"g","logEvents":['
        + b",".join([b'{"id":"","timestamp":0,"message":""}'] * 1_300_000)
        + b"]}",
        9,
    ),
    # a gzip bomb: 1 GiB of zeros
    "zeros": lambda: _gzip_stream(b"0" * (1 << 20), 1024),
    # JSON nested 300,000 levels deep
    "deep-json": lambda: gzip.compress(b"[" * 300_000 + b"]" * 300_000),
    # one-megabyte messages that are almost JSON
    "long-lines": lambda: gzip.compress(_payload(['{"status":"200","x":"' + "a" * 1_000_000] * 20)),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_DELIVERIES))
def test_any_delivery_up_to_one_megabyte_compressed_has_bounded_memory_and_cpu(tmp_path, name):
    # GIVEN a hostile delivery of at most 1 MB compressed
    compressed = HOSTILE_DELIVERIES[name]()
    # WHEN the real handler runs on it in a fresh interpreter
    usage = measure_delivery(tmp_path, compressed)
    # THEN it finished (no exception) within the bounds
    assert usage["rss_mb"] < MAX_RSS_MB, usage
    assert usage["cpu_s"] < MAX_CPU_S, usage


# -- the CLI: files read as streams ------------------------------------------------------------------------

_CLI_MEASURE = textwrap.dedent(
    """
    import io, json, os, resource, sys
    sys.path[:0] = [{functions!r}, {root!r}]
    from gatewatch_cli.main import main

    class Counting(io.TextIOBase):  # what a pipe to `wc -l` would see, without keeping it
        lines = 0
        def write(self, text):
            self.lines += text.count("\\n")
            return len(text)

    out, err = Counting(), io.StringIO()
    sys.stdout, sys.stderr = out, err
    code = main(["classify", "--no-progress", sys.argv[1]])
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    usage = resource.getrusage(resource.RUSAGE_SELF)
    hwm_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    print(json.dumps({{"code": code, "stderr": err.getvalue()[-2000:], "lines": out.lines,
                      "rss_mb": hwm_kb / 1024, "cpu_s": usage.ru_utime + usage.ru_stime}}))
    """
)


def measure_cli(path) -> dict:
    script = _CLI_MEASURE.format(functions=str(ROOT / "functions"), root=str(ROOT))
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_cli_reads_a_gzip_bomb_with_bounded_memory_and_says_why(tmp_path):
    # GIVEN a 1 MB gzip file that inflates to 1 GiB without a single line end
    path = tmp_path / "bomb.log.gz"
    path.write_bytes(_gzip_stream(b"0" * (1 << 20), 1024))
    # WHEN `gatewatch classify` reads it
    result = measure_cli(path)
    # THEN memory stays bounded and the user is told why nothing could be read
    assert result["rss_mb"] < MAX_RSS_MB, result
    assert result["code"] == 2 and "line-too-long" in result["stderr"], result


def test_the_cli_streams_a_large_file_line_by_line(tmp_path):
    # GIVEN a 300 MB text file of access lines (more than the CLI would read whole)
    line = (access_line(0) + "\n").encode()
    path = tmp_path / "big.log"
    with path.open("wb") as out:
        block = line * 10_000
        while out.tell() < 300 * 1024 * 1024:
            out.write(block)
    # WHEN classified  THEN every line is read, and the input never sits in memory whole
    result = measure_cli(path)
    assert result["code"] == 0 and result["lines"] == path.stat().st_size // len(line), result
    assert result["rss_mb"] < 300 * 1024 * 1024 / 2**20, result  # less than the file itself
