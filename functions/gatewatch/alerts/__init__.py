"""Classified failures in; versioned `gatewatch.alert/v1` messages and their dedupe windows out."""
