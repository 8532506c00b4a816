"""`gatewatch classify` / `gatewatch analyze` as a user runs them, on the real corpus and the samples."""

import gzip
import json
import subprocess
import sys

import pytest

from gatewatch.classify.taxonomy import ErrorCategory
from gatewatch_cli.main import main
from tests.helpers import CORPUS, ROOT, SAMPLES, access_corpus_lines, s01_payloads, subscription_event

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


def test_every_corpus_file_classifies_without_a_crash_and_keeps_the_contract(capsys, corpus_files):
    for name in ("execution.txt", "access.log", "s01.jsonl", "policylevel_event.json"):
        _code, out, err = run(capsys, "classify", str(corpus_files / name))
        assert "Traceback" not in err
        for rec in records(out):
            assert rec.keys() >= CONTRACT_KEYS
            assert rec["category"] in {c.value for c in ErrorCategory}


def test_each_s01_request_that_completes_comes_out_with_its_status_and_a_category(capsys, corpus_files):
    # GIVEN the four real S01 subscription payloads
    expected = {}
    for payload in s01_payloads():
        for ev in payload["logEvents"]:
            msg = ev["message"]
            if "Method completed with status: " in msg:
                rid = msg[1 : msg.index(")")]
                expected[rid] = int(msg.rsplit(" ", 1)[1])
    # WHEN classified  THEN every completed request is there once with its status and a category
    code, out, _ = run(capsys, "classify", str(corpus_files / "s01.jsonl"))
    got = {r["request_id"]: r for r in records(out)}
    assert code == 0 and expected and set(expected) <= set(got)
    for rid, status in expected.items():
        assert got[rid]["status"] == status
        assert got[rid]["category"] == ("OK" if status < 400 else got[rid]["category"]) and got[rid]["category"]
    cats = {got[rid]["category"] for rid, s in expected.items() if s >= 400}
    assert {"LAMBDA_TIMEOUT", "THROTTLED", "MALFORMED_RESPONSE"} <= cats
    assert all(got[r]["api_id"] in ("uwe3g5jm54", "h733q2j6gb") for r in expected)


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
