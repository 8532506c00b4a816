"""The `gatewatch` command: files, exports and live log groups in; JSON Lines, reports and docs out (extra: cli)."""
