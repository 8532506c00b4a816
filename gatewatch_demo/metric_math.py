"""The subset of CloudWatch metric math the alarm specs use: numbers, ids, + - * /, comparisons, IF, FILL.

A tiny recursive-descent parser (no eval), so the demo evaluates exactly the expression string the
stack deploys. Division by zero and missing inputs behave as in CloudWatch: no data point.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z_0-9]*)|(>=|<=|==|!=|[-+*/(),<>]))")


class MathError(ValueError):
    pass


def _tokens(expression: str) -> list[str]:
    out: list[str] = []
    pos = 0
    expression = expression.strip()
    while pos < len(expression):
        m = _TOKEN.match(expression, pos)
        if not m or m.end() == pos:
            raise MathError(f"cannot read {expression[pos : pos + 20]!r}")
        out.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[str], values: Mapping[str, float | None]) -> None:
        self.t, self.i, self.values = tokens, 0, values

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise MathError(f"expected {expected or 'a token'}, got {tok!r}")
        self.i += 1
        return tok

    def parse(self) -> float | None:
        value = self.comparison()
        if self.peek() is not None:
            raise MathError(f"unexpected {self.peek()!r}")
        return value

    def comparison(self) -> float | None:
        left = self.additive()
        while self.peek() in (">", "<", ">=", "<=", "==", "!="):
            op = self.take()
            right = self.additive()
            if left is None or right is None:
                left = None
                continue
            left = float(
                {
                    ">": left > right,
                    "<": left < right,
                    ">=": left >= right,
                    "<=": left <= right,
                    "==": left == right,
                    "!=": left != right,
                }[op]
            )
        return left

    def additive(self) -> float | None:
        left = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.term()
            left = None if left is None or right is None else (left + right if op == "+" else left - right)
        return left

    def term(self) -> float | None:
        left = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()
            right = self.unary()
            if left is None or right is None:
                left = None
            elif op == "*":
                left = left * right
            else:
                left = None if right == 0 else left / right
        return left

    def unary(self) -> float | None:
        if self.peek() == "-":
            self.take()
            v = self.unary()
            return None if v is None else -v
        return self.atom()

    def atom(self) -> float | None:
        tok = self.take()
        if tok == "(":
            v = self.comparison()
            self.take(")")
            return v
        if tok[0].isdigit():
            return float(tok)
        name = tok.upper()
        if name in ("IF", "FILL") and self.peek() == "(":
            self.take("(")
            args = [self.comparison()]
            while self.peek() == ",":
                self.take(",")
                args.append(self.comparison())
            self.take(")")
            if name == "FILL":
                if len(args) != 2:
                    raise MathError("FILL takes two arguments")
                return args[1] if args[0] is None else args[0]
            if len(args) != 3:
                raise MathError("IF takes three arguments")
            if args[0] is None:
                return None
            return args[1] if args[0] else args[2]
        if tok not in self.values:
            raise MathError(f"unknown metric id {tok!r}")
        return self.values[tok]


def evaluate_expression(expression: str, values: Mapping[str, float | None]) -> float | None:
    """Evaluate `expression` with metric ids bound to their period values (None = no data point)."""
    return _Parser(_tokens(expression), values).parse()
