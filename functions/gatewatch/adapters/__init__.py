"""The engine's only I/O: boto3 (SNS, DynamoDB, Secrets Manager) and HTTP (Slack), behind small classes."""
