"""The `gatewatch` command: the same engine as the Lambda, over files, stdin or (later) live log groups.

gatewatch classify PATH...   one JSON object per request (JSON Lines) — the public contract
gatewatch analyze PATH...    the report a person reads (--format text|json|markdown)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from gatewatch.config import ConfigError, EngineConfig, load_engine_config
from gatewatch.constants import ENV_APIS, ENV_FIELD_MAP
from gatewatch.models import Rejection
from gatewatch_cli.docs import add_arguments as docs_arguments

if TYPE_CHECKING:
    from gatewatch.models import ClassifiedRequest
    from gatewatch.pipeline import Analysis

PROGRESS_THRESHOLD_BYTES = 4 * 1024 * 1024
SKIP_SUFFIXES = {".md", ".py", ".txt.md"}


def _expand(paths: Sequence[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        if p == "-":
            out.append(p)
            continue
        path = Path(p)
        if path.is_dir():
            out.extend(
                str(f)
                for f in sorted(path.rglob("*"))
                if f.is_file() and f.suffix not in SKIP_SUFFIXES and not f.name.startswith(".")
            )
        else:
            out.append(p)
    return out


def _load_config(args: argparse.Namespace) -> EngineConfig:
    apis = Path(args.apis).read_text() if args.apis else os.environ.get(ENV_APIS)
    field_map = Path(args.field_map).read_text() if args.field_map else os.environ.get(ENV_FIELD_MAP)
    return load_engine_config(apis, field_map)


#: Receives the requests classified so far, batch by batch (then they are no longer kept in the analysis).
RequestSink = Callable[[list["ClassifiedRequest"], list["ClassifiedRequest"]], None]


def run_analysis(
    paths: Sequence[str],
    config: EngineConfig,
    *,
    log_group: str | None = None,
    progress: bool = True,
    sink: RequestSink | None = None,
) -> tuple[Analysis, list[str]]:
    """Read every path through the engine; returns the analysis and the paths that could not be opened.
    With a `sink`, the classified requests go to it as they come instead of staying in the analysis."""
    from gatewatch.pipeline import LogAnalyzer
    from gatewatch_cli.inputs import iter_path_batches

    files = _expand(paths)
    sizes = {f: (os.path.getsize(f) if f != "-" and os.path.exists(f) else 0) for f in files}
    analyzer = LogAnalyzer(config)
    failed: list[str] = []
    decoded_events = 0
    show = progress and sum(sizes.values()) >= PROGRESS_THRESHOLD_BYTES
    with _progress_bar(show, "bytes") as bar:
        task = bar.add_task("logs", total=sum(sizes.values())) if bar is not None else None
        for f in files:
            try:
                for item in iter_path_batches(f, log_group=log_group):
                    if isinstance(item, Rejection):
                        analyzer.add_rejection(item)
                    else:
                        decoded_events += len(item.events)
                        analyzer.add_batch(item)
                        if sink is not None:
                            sink(*analyzer.take_requests())
            except OSError as exc:
                failed.append(f"{f}: {exc.strerror or exc}")
                continue
            if bar is not None:
                bar.update(task, advance=sizes[f], description=os.path.basename(f))
    analysis = analyzer.finish(drain_incomplete=True)
    analysis.decoded_events = decoded_events
    if sink is not None:
        sink(analysis.access, analysis.execution)
        analysis.access, analysis.execution = [], []
    return analysis, failed


@contextlib.contextmanager
def _progress_bar(show: bool, unit: str) -> Iterator[Any]:
    """A transient rich progress bar on stderr (None when not shown): bytes of files, or events of log groups."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns: tuple[ProgressColumn, ...]
    if unit == "bytes":
        columns = (
            TextColumn("[bold]reading[/bold] {task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
        )
    else:
        columns = (SpinnerColumn(), TextColumn("[bold]{task.description}[/bold] {task.completed:,} events"))
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        yield bar


def _nothing_read(analysis: Analysis) -> bool:
    """True when no input could be decoded into log events at all (then the exit status is 2)."""
    return analysis.decoded_events == 0 and sum(analysis.lines_parsed.values()) == 0


def _analysis_for(
    args: argparse.Namespace, config: EngineConfig, sink: RequestSink | None = None
) -> tuple[Analysis, list[str]]:
    """Files/stdin, or live log groups when --log-group is given without a PATH."""
    if args.paths:
        if args.log_group and len(args.log_group) > 1:
            raise ConfigError("with PATHs, --log-group names the one group those files came from")
        log_group = args.log_group[0] if args.log_group else None
        return run_analysis(args.paths, config, log_group=log_group, progress=not args.no_progress, sink=sink)
    if not args.log_group:
        raise ConfigError("give log files (or '-' for stdin), or --log-group NAME --since 1h to read live logs")
    return run_live_analysis(args.log_group, args.since or "1h", config, progress=not args.no_progress)


def run_live_analysis(
    log_groups: Sequence[str], since: str, config: EngineConfig, *, progress: bool = True
) -> tuple[Analysis, list[str]]:
    """Read live log groups (FilterLogEvents) through the engine, with a progress line per group."""
    import time

    from gatewatch.pipeline import LogAnalyzer
    from gatewatch_cli.live_logs import iter_log_group_batches, parse_since

    try:
        seconds = parse_since(since)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    end_ms = int(time.time() * 1000)
    start_ms = end_ms - seconds * 1000
    analyzer = LogAnalyzer(config)
    failed: list[str] = []
    decoded = 0
    with _progress_bar(progress, "events") as bar:
        for group in log_groups:
            task = bar.add_task(group, total=None) if bar is not None else None
            advance = (lambda n, t=task: bar.update(t, advance=n)) if bar is not None else None
            try:
                for batch in iter_log_group_batches(group, start_ms=start_ms, end_ms=end_ms, on_page=advance):
                    decoded += len(batch.events)
                    analyzer.add_batch(batch)
            except Exception as exc:  # botocore errors: name the group and the AWS error code, keep going
                code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
                failed.append(f"{group}: {code or type(exc).__name__}")
    analysis = analyzer.finish(drain_incomplete=True)
    analysis.decoded_events = decoded
    return analysis, failed


def cmd_classify(args: argparse.Namespace) -> int:
    from gatewatch_cli.joined import JoinWindow

    config = _load_config(args)
    out = sys.stdout

    def write(req: ClassifiedRequest) -> None:
        out.write(orjson.dumps(req.to_public_dict()).decode())
        out.write("\n")

    window = JoinWindow(write)
    analysis, failed = _analysis_for(args, config, sink=window.add if args.paths else None)
    window.add(analysis.access, analysis.execution)  # live log groups: all at once
    window.flush()
    out.flush()
    return _finish(analysis, failed, quiet=args.quiet)


def cmd_analyze(args: argparse.Namespace) -> int:
    from gatewatch_cli.report import build_report, render_json, render_markdown, render_text

    config = _load_config(args)
    analysis, failed = _analysis_for(args, config)
    report = build_report(analysis, top_routes=args.top)
    if args.format == "json":
        sys.stdout.write(render_json(report) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(report))
    else:
        from rich.console import Console

        render_text(report, Console(soft_wrap=False))
    return _finish(analysis, failed, quiet=True)


def _finish(analysis: Analysis, failed: list[str], *, quiet: bool) -> int:
    err = sys.stderr
    for f in failed:
        err.write(f"gatewatch: cannot read {f}\n")
    unparsed = sum(analysis.lines_unparsed.values())
    if unparsed and not quiet:
        reasons: dict[str, int] = {}
        for r in analysis.rejections:
            reasons[f"{r.source}:{r.reason}"] = reasons.get(f"{r.source}:{r.reason}", 0) + 1
        err.write(
            f"gatewatch: {unparsed} line(s) not parsed: "
            + ", ".join(f"{k} ×{v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))
            + "\n"
        )
    if _nothing_read(analysis):
        err.write("gatewatch: nothing could be read from the input\n")
        return 2
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from gatewatch_cli.docs import run

    return run(args.section, args.write)


def cmd_demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    from gatewatch_demo.runner import DemoOptions
    from gatewatch_demo.show import run_and_show

    options = DemoOptions(out_dir=Path(args.out), seed=args.seed, rate_per_minute=args.rate)
    return run_and_show(options, Console())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gatewatch",
        description=(
            "Classify AWS API Gateway failures by cause: which are your code, your config or your capacity, "
            "and whether a retry helps."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "paths",
            nargs="*",
            metavar="PATH",
            help="log files or directories ('-' for stdin): subscription events or payloads, Kinesis/"
            "Firehose events, filter-log-events/get-log-events output, Logs Insights exports, text",
        )
        p.add_argument("--apis", metavar="FILE", help=f"per-API settings as JSON (same shape as ${ENV_APIS})")
        p.add_argument(
            "--field-map", metavar="FILE", help="JSON object mapping your access-log field names to gatewatch's"
        )
        p.add_argument(
            "--log-group",
            metavar="NAME",
            action="append",
            help="with PATHs: the log group plain-text input came from (API-Gateway-Execution-Logs_"
            "{apiId}/{stage} marks execution logs); without PATHs: a live log group to read with "
            "--since (repeatable; real AWS, or the endpoint in AWS_ENDPOINT_URL)",
        )
        p.add_argument(
            "--since", metavar="DURATION", help="with --log-group and no PATH: read the last 30m, 1h, 2d ..."
        )
        p.add_argument("--no-progress", action="store_true", help="never show a progress bar")

    p = sub.add_parser("classify", help="one JSON object per request (JSON Lines)")
    common(p)
    p.add_argument("--quiet", action="store_true", help="do not summarise unparsed lines on stderr")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("analyze", help="a report per API and stage: causes, fixes, routes, latency")
    common(p)
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--top", type=int, default=10, help="how many failing routes to list (default 10)")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("demo", help="the whole pipeline on this machine: local AWS (moto), alarms, Slack, a dashboard")
    p.add_argument("--out", default="gatewatch-demo", help="where to write the report, dashboard and logs")
    p.add_argument("--seed", type=int, default=7, help="traffic seed (the same seed gives the same hour)")
    p.add_argument("--rate", type=float, default=60.0, help="baseline requests per minute")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("docs", help="print the category table or troubleshooting guide (generated from the code)")
    docs_arguments(p)
    p.set_defaults(func=cmd_docs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        sys.stderr.write(f"gatewatch: configuration error: {exc}\n")
        return 2
    except BrokenPipeError:  # e.g. `gatewatch classify ... | head`
        with contextlib.suppress(Exception):
            sys.stdout.close()
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
