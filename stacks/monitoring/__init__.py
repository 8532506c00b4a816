"""Alarm and metric definitions: pure specs (shared with the demo) and the CDK factory that builds them."""
