"""`gatewatch classify` / `gatewatch analyze` as a user runs them, on the real corpus and the samples."""

import gzip
import json
import re
import subprocess
import sys
from collections import Counter

import pytest

from gatewatch.classify.taxonomy import ErrorCategory
from gatewatch_cli.main import main
from tests.helpers import (
    CORPUS,
    ROOT,
    SAMPLES,
    access_corpus_lines,
    corpus_access,
    corpus_execution,
    s01_payloads,
    subscription_event,
)

CONTRACT_KEYS = {
    "request_id",
    "api_id",
    "stage",
    "route",
    "status",
    "category",
    "retry",
    "blame",
    "latency_ms",
    "integration_latency_ms",
    "latency_class",
    "evidence",
}


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture()
def corpus_files(tmp_path):
    (tmp_path / "execution.txt").write_text((CORPUS / "corpus_execution.txt").read_text())
    (tmp_path / "access.log").write_text("\n".join(access_corpus_lines()) + "\n")
    (tmp_path / "s01.jsonl").write_text("".join(json.dumps(p) + "\n" for p in s01_payloads()))
    pt = json.loads((CORPUS / "payloads" / "powertools_cloudWatchLogEventWithPolicyLevel.json").read_text())
    (tmp_path / "policylevel_event.json").write_text(json.dumps(pt["event"]))
    return tmp_path


#: What the corpus documents about a request, by a phrase of its own execution log (tests/events/corpus/SOURCES.md, S01).
S01_EVIDENCE = (
    ("Task timed out after", "LAMBDA_TIMEOUT"),
    ("Key throttle limit exceeded", "THROTTLED"),
    ("Malformed Lambda proxy response", "MALFORMED_RESPONSE"),
)
COMPLETED = re.compile(r"Method completed with status: (\d{3})")


def access_status(raw: str) -> int:
    """The status an access-log record carries: its JSON `status` field, or the CLF status after the protocol."""
    m = re.search(r'"status"\s*:\s*"?(\d{3})', raw) or re.search(r'HTTP/[\d.]+" (\d{3}) ', raw)
    assert m, raw
    return int(m.group(1))


def s01_requests() -> dict[str, dict]:
    """Each S01 request id with what its own lines say: log group's api and stage, final status, documented cause."""
    found: dict[str, dict] = {}
    for payload in s01_payloads():
        api_id, stage = payload["logGroup"].removeprefix("API-Gateway-Execution-Logs_").split("/")
        for ev in payload["logEvents"]:
            rid, _, text = ev["message"][1:].partition(") ")
            req = found.setdefault(rid, {"api_id": api_id, "stage": stage, "status": None, "category": None})
            if m := COMPLETED.search(text):
                req["status"] = int(m.group(1))
            req["category"] = next((c for phrase, c in S01_EVIDENCE if phrase in text), req["category"])
    for req in found.values():
        if req["status"] is not None and req["status"] < 400:
            req["category"] = "OK"
    return found


def test_every_corpus_file_classifies_and_keeps_the_contract(capsys, corpus_files):
    # GIVEN each corpus file as a user would hand it to the CLI, and what the corpus holds in each, counted here
    completed = Counter(
        int(m.group(1)) for e in corpus_execution() if (m := COMPLETED.search(e["message"])) is not None
    )
    access = [(r["raw"], access_status(r["raw"])) for r in corpus_access()]
    # WHEN each file is classified THEN it exits 0 and every record carries the contract keys and a known category
    out_of: dict[str, list[dict]] = {}
    err_of: dict[str, str] = {}
    for name in ("execution.txt", "access.log", "s01.jsonl", "policylevel_event.json"):
        code, out, err = run(capsys, "classify", str(corpus_files / name))
        assert code == 0, (name, err)
        assert "Traceback" not in err
        out_of[name], err_of[name] = records(out), err
        for rec in out_of[name]:
            assert rec.keys() >= CONTRACT_KEYS, name
            assert rec["category"] in {c.value for c in ErrorCategory}, name
    # AND the execution log yields a request for each `Method completed` line, with that status
    assert completed and not completed - Counter(r["status"] for r in out_of["execution.txt"])
    # AND each access record is one request, with the status and request id of its own line
    assert len(out_of["access.log"]) == len(access)
    for rec in out_of["access.log"]:
        (status,) = [status for raw, status in access if rec["request_id"] and rec["request_id"] in raw]
        assert rec["status"] == status, rec["request_id"]
    assert sorted(r["status"] for r in out_of["access.log"]) == sorted(status for _, status in access)
    # AND the S01 payloads yield each of their requests
    assert {r["request_id"] for r in out_of["s01.jsonl"]} == set(s01_requests())
    # AND the Powertools event holds two Lambda lines, not API Gateway logs: no record, both counted as not parsed
    pt = json.loads((CORPUS / "payloads" / "powertools_cloudWatchLogEventWithPolicyLevel.json").read_text())
    lambda_lines = len(json.loads(pt["decoded_text_verbatim"])["logEvents"])
    assert out_of["policylevel_event.json"] == []
    assert f"{lambda_lines} line(s) not parsed" in err_of["policylevel_event.json"]


def test_each_s01_request_comes_out_once_with_the_status_and_cause_its_log_shows(capsys, corpus_files):
    # GIVEN the four real S01 subscription payloads, and what each request's own lines say about it
    expected = s01_requests()
    assert {r["category"] for r in expected.values()} == {"OK", "LAMBDA_TIMEOUT", "THROTTLED", "MALFORMED_RESPONSE"}
    # WHEN classified
    code, out, _ = run(capsys, "classify", str(corpus_files / "s01.jsonl"))
    # THEN every request is there exactly once, with its log group's API and stage, its status and its cause
    got = records(out)
    assert code == 0
    assert sorted(r["request_id"] for r in got) == sorted(expected)
    for rec in got:
        want = expected[rec["request_id"]]
        assert (rec["api_id"], rec["stage"], rec["status"], rec["category"]) == (
            want["api_id"],
            want["stage"],
            want["status"],
            want["category"],
        ), rec["request_id"]


def test_subscription_event_gzip_file_and_stdin_are_read(capsys, tmp_path, monkeypatch):
    event = subscription_event(s01_payloads()[1])
    path = tmp_path / "event.json.gz"
    path.write_bytes(gzip.compress(json.dumps(event).encode()))
    code, out, _ = run(capsys, "classify", str(path))
    assert code == 0 and any(r["category"] == "THROTTLED" for r in records(out))

    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(event).encode())))
    code, out, _ = run(capsys, "classify", "-")
    assert code == 0 and any(r["status"] == 429 for r in records(out))


def test_garbage_is_counted_and_reported_but_not_fatal(capsys, tmp_path):
    good = access_corpus_lines()[17]  # A18: HTTP CLF with an integration error
    (tmp_path / "mixed.log").write_bytes(b"\x00\x01\xffnot a log line at all\n" + good.encode() + b"\n")
    code, out, err = run(capsys, "classify", str(tmp_path / "mixed.log"))
    assert code == 0
    assert [r["category"] for r in records(out)] == ["INTEGRATION_PERMISSION"]
    assert "not parsed" in err


def test_nothing_readable_exits_2(capsys, tmp_path):
    (tmp_path / "junk.bin").write_bytes(bytes(range(256)) * 4)
    code, out, err = run(capsys, "classify", str(tmp_path / "junk.bin"))
    assert code == 2 and out == "" and "nothing could be read" in err
    code, _, err = run(capsys, "classify", str(tmp_path / "missing.log"))
    assert code == 2 and "cannot read" in err


@pytest.mark.parametrize("fmt", ["json", "markdown", "text"])
def test_analyze_reports_every_format_on_the_samples(capsys, fmt):
    code, out, _ = run(capsys, "analyze", "--format", fmt, "--no-progress", str(SAMPLES))
    assert code == 0
    if fmt == "json":
        report = json.loads(out)
        assert report["total_requests"] > 1000 and report["apis"]
        for api in report["apis"]:
            assert api["by_category"] and all(c["fix"] and c["retry"] for c in api["by_category"])
            assert api["top_failing_routes"]
        # the JSON access logs carry latencies: their API has percentiles
        assert any(
            api["latency"]["p90"] is not None and api["integration_latency"]["p99"] is not None
            for api in report["apis"]
        )
    else:
        assert "MALFORMED_RESPONSE" in out and "p90" in out


def test_python_dash_m_and_the_console_script_work(tmp_path):
    (tmp_path / "a.log").write_text(access_corpus_lines()[17] + "\n")
    for cmd in ([sys.executable, "-m", "gatewatch_cli"], [str(ROOT / ".venv" / "bin" / "gatewatch")]):
        r = subprocess.run(
            cmd + ["classify", str(tmp_path / "a.log")],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT / "functions"), "PATH": "/usr/bin:/bin"},
        )
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["category"] == "INTEGRATION_PERMISSION"
