"""What `gatewatch demo` prints and writes: progress, the report, the alarms, the Slack messages, files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gatewatch.constants import DEFAULT_NAMESPACE
from gatewatch_demo.metrics import percentile_checks
from gatewatch_demo.runner import DemoOptions, DemoPipeline, DemoResult
from stacks.monitoring.alarm_specs import Thresholds


def _hhmm(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%H:%M UTC")


def write_outputs(pipeline: DemoPipeline, result: DemoResult, out_dir: Path) -> dict[str, Path]:
    """Raw logs (re-run `gatewatch analyze` on them), Slack payloads, the report (HTML), the dashboard (PNG)."""
    import boto3  # type: ignore[import-untyped]  # noqa: F401 - fail early, clearly, without the AWS SDK (untyped)

    from gatewatch.config import load_engine_config
    from gatewatch_cli.main import run_analysis
    from gatewatch_cli.report import build_report
    from gatewatch_demo import simulate as sim

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "logs").mkdir(exist_ok=True)
    (out_dir / "slack").mkdir(exist_ok=True)
    files: dict[str, Path] = {}
    access = out_dir / "logs" / "access.jsonl"
    access.write_text("".join(m + "\n" for _, m in pipeline.access_events))
    execution = out_dir / "logs" / "execution.json"
    execution.write_text(json.dumps(sim.filter_log_events_output(pipeline.execution_events, log_stream="demo")))
    files["access log"], files["execution log"] = access, execution
    apis = out_dir / "logs" / "apis.json"
    apis.write_text(
        json.dumps(
            {pipeline.options.api_id: {"name": pipeline.options.api_name, "stage": pipeline.options.stage}}, indent=2
        )
    )
    files["api settings"] = apis
    for old in (out_dir / "slack").glob("*.json"):
        old.unlink()
    for i, payload in enumerate(result.slack_messages, 1):
        path = out_dir / "slack" / f"{i:02d}.json"
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    files["slack payloads"] = out_dir / "slack"
    (out_dir / "lambda-logs.jsonl").write_text("\n".join(pipeline.lambda_output) + "\n")
    # The report comes from the files just written, exactly as a user re-running analyze would get it.
    config = load_engine_config(apis.read_text())
    analysis, _ = run_analysis([str(access)], config, progress=False)
    analysis = analysis.merge(
        run_analysis([str(execution)], config, log_group=pipeline.execution_group, progress=False)[0]
    )
    result.report = build_report(analysis)
    try:
        from gatewatch_demo.dashboard_png import render_dashboard_png
        from gatewatch_demo.html_report import render_html_report
    except ImportError:  # pragma: no cover - visuals are part of the package
        return files
    png = out_dir / "dashboard.png"
    top = result.report.apis[0].top_failing_routes if result.report.apis else []
    render_dashboard_png(
        result.store,
        png,
        namespace="Gatewatch",
        api=pipeline.options.api_name,
        stage=pipeline.options.stage,
        transitions=result.transitions,
        top_routes=top,
        alarm_names=pipeline.alarm_names,
    )
    html = out_dir / "report.html"
    render_html_report(
        result.report,
        html,
        dashboard_png=png.name,
        transitions=result.transitions,
        slack_messages=result.slack_messages,
    )
    files["dashboard"], files["report"] = png, html
    return files


def _show_percentiles(result: DemoResult, options: DemoOptions, console: Any) -> None:
    """The latency percentiles CloudWatch computes from the published EMF, against the simulator's truth."""
    from rich.table import Table

    checks = percentile_checks(
        result.store,
        result.true_latencies,
        DEFAULT_NAMESPACE,
        {"Api": options.api_name, "Stage": options.stage},
        result.start_ms,
        result.end_ms,
    )
    table = Table(title="Latency percentiles: published metrics (as CloudWatch computes them) vs the simulator's truth")
    for column in ("window", "statistic", "published", "truth", "difference"):
        table.add_column(column, justify="left" if column in ("window", "statistic") else "right")
    for c in checks:
        error = c.error
        table.add_row(
            c.window,
            c.statistic,
            f"{c.published:,.0f} ms" if c.published is not None else "-",
            f"{c.truth:,.0f} ms" if c.truth is not None else "-",
            f"{error:.1%}" if error is not None else "-",
        )
    console.print(table)


def run_and_show(options: DemoOptions, console: Any) -> int:
    from rich.progress import BarColumn, Progress, TextColumn

    from gatewatch_cli.report import render_text
    from gatewatch_demo.terminal import render_slack_message

    console.print(
        "[bold]gatewatch demo[/bold] — one hour of a sample API's traffic through the whole pipeline, "
        "with moto's server on 127.0.0.1 as AWS and a loopback Slack."
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}
        labels = {"traffic": "writing logs with PutLogEvents", "minutes": "delivering, analysing, alarming (minutes)"}

        def progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(labels.get(step, step), total=total)
            bar.update(tasks[step], completed=done, total=total)

        pipeline = DemoPipeline(options, progress=progress)
        result = pipeline.run()
        if options.write_files:
            result.files = write_outputs(pipeline, result, options.out_dir)
    if result.report is not None:
        render_text(result.report, console)
    _show_percentiles(result, options, console)
    console.rule("[bold]Alarms (evaluated minute by minute from the stack's alarm definitions)")
    limits = options.thresholds
    if limits.silence_minutes:
        console.print(
            f"silence alarm: fewer than {limits.silence_requests_per_minute:g} request(s) a minute for "
            f"{limits.silence_minutes} minutes (the demo's thresholds.silenceMinutes; deployed default "
            f"{Thresholds().silence_minutes}) — the hour has a silent stretch, the stage unreachable",
            style="dim",
        )
    if not result.transitions:
        console.print("no alarm changed state")
    for t in result.transitions:
        style = "red" if t.new_state == "ALARM" else "green"
        console.print(f"[{style}]{_hhmm(t.time_ms)}  {t.new_state:<5}[/{style}]  {t.alarm_name}")
    console.rule(f"[bold]Slack: {len(result.slack_messages)} message(s) delivered to the loopback webhook")
    for i, payload in enumerate(result.slack_messages, 1):
        render_slack_message(payload, console, title=f"#{i}")
    console.rule("[bold]Files")
    for what, path in result.files.items():
        console.print(f"{what:>15}: {path}")
    console.print(f"\nRe-run the analysis yourself: [bold]gatewatch analyze {options.out_dir}/logs/access.jsonl[/bold]")
    console.print(
        f"{result.requests:,} requests, {result.log_events:,} log events, {result.emf_documents:,} EMF "
        f"documents, {result.metric_data:,} metric data points sent to moto's CloudWatch."
    )
    return 0
