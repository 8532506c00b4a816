"""`gatewatch analyze --log-group NAME --since 1h` reads live log groups through boto3 (moto here)."""

import json
import time

import boto3
import pytest
from moto import mock_aws

from gatewatch.adapters.aws import reset_clients
from gatewatch_cli.live_logs import parse_since
from gatewatch_cli.main import main
from tests.helpers import access_corpus_lines, s01_payloads


@pytest.fixture()
def logs(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        reset_clients()
        client = boto3.client("logs")
        now = int(time.time() * 1000)
        client.create_log_group(logGroupName="/aws/apigateway/orders")
        client.create_log_stream(logGroupName="/aws/apigateway/orders", logStreamName="s")
        client.put_log_events(
            logGroupName="/aws/apigateway/orders",
            logStreamName="s",
            logEvents=[
                {"timestamp": now - 60_000 + i, "message": line} for i, line in enumerate(access_corpus_lines())
            ],
        )
        group = s01_payloads()[1]["logGroup"]
        client.create_log_group(logGroupName=group)
        client.create_log_stream(logGroupName=group, logStreamName="e")
        client.put_log_events(
            logGroupName=group,
            logStreamName="e",
            logEvents=[
                {"timestamp": now - 30_000 + i, "message": e["message"]}
                for i, e in enumerate(s01_payloads()[1]["logEvents"])
            ],
        )
        yield group
        reset_clients()


def test_live_log_groups_are_read_and_classified(capsys, logs):
    # GIVEN an access-log group and an execution-log group with recent events
    # WHEN classified live
    code = main(
        ["classify", "--no-progress", "--log-group", "/aws/apigateway/orders", "--log-group", logs, "--since", "1h"]
    )
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # THEN both are read: the access corpus' integration permission error and the execution log's key throttle
    assert code == 0
    cats = {r["category"] for r in out}
    assert {"INTEGRATION_PERMISSION", "THROTTLED"} <= cats
    assert any(r["api_id"] == "uwe3g5jm54" and r["stage"] == "Prod" for r in out)


def test_events_older_than_since_are_not_read(capsys, logs):
    # GIVEN events a minute old WHEN only the last 10 s are asked for
    code = main(
        ["analyze", "--format", "json", "--no-progress", "--log-group", "/aws/apigateway/orders", "--since", "10s"]
    )
    # THEN the group is read (no error about it) but holds nothing that recent: exit 2, saying so
    captured = capsys.readouterr()
    assert code == 2
    assert "nothing could be read" in captured.err and "cannot read" not in captured.err
    # AND the same group over the last hour is read: the age alone made the difference
    assert main(["classify", "--no-progress", "--log-group", "/aws/apigateway/orders", "--since", "1h"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(access_corpus_lines())


def test_a_missing_group_is_reported_by_name(capsys, logs):
    code = main(["classify", "--no-progress", "--log-group", "/does/not/exist", "--since", "1h"])
    err = capsys.readouterr().err
    assert code == 2 and "/does/not/exist: ResourceNotFoundException" in err


@pytest.mark.parametrize("text,seconds", [("30m", 1800), ("1h", 3600), ("2d", 172800), ("1w", 604800), ("45s", 45)])
def test_since_durations(text, seconds):
    assert parse_since(text) == seconds


def test_a_bad_since_is_a_clear_error(capsys, logs):
    assert main(["analyze", "--log-group", "/aws/apigateway/orders", "--since", "yesterday"]) == 2
    assert "--since takes a duration" in capsys.readouterr().err
