"""The Lambdas' structured logger: Powertools Logger, with every traceback passed through redaction.

Why: the handlers log an engine failure with `logger.exception`, and an exception's message can echo
the data it failed on (`KeyError('token=...')`, a `repr` of a line). Samples are redacted where they
are taken (`redact.short_sample`); a traceback is formatted by the logging machinery, so it is
redacted here, in the formatter, for every exception any handler logs.
"""

from __future__ import annotations

from typing import Any, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord

from gatewatch.redact import redact_secrets


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter whose exception fields carry no secret of the known formats.

    Powertools writes an exception three ways: `exception` (the formatted traceback), `exception_notes`
    and `stack_trace` (type, value, frames). Each is redacted here, on the record Powertools is about
    to serialise; the frames' file names and source lines are the code's, not the data's.
    """

    def serialize(self, log: LogRecord) -> str:
        fields = cast(dict[str, Any], log)
        if fields.get("exception") is not None:
            fields["exception"] = redact_secrets(str(fields["exception"]))
        if fields.get("exception_notes"):
            fields["exception_notes"] = [redact_secrets(str(note)) for note in fields["exception_notes"]]
        stack = fields.get("stack_trace")
        if isinstance(stack, dict) and stack.get("value") is not None:
            fields["stack_trace"] = {**stack, "value": redact_secrets(str(stack["value"]))}
        return super().serialize(log)


def lambda_logger(service: str) -> Logger:
    """A Powertools Logger for a gatewatch Lambda (JSON lines, Lambda context keys, redacted tracebacks)."""
    return Logger(service=service, logger_formatter=RedactingFormatter())
