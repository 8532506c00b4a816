"""Log lines in; `AccessRecord`s (access logs) and `ExecutionRequest`s (execution logs), or `Rejection`s, out."""
