"""Parsed requests in; `ClassifiedRequest`s out: the taxonomy table, the evidence rules, the latency class."""
