"""SNS messages (CloudWatch alarms, analyzer alerts, anything else) in; Slack Block Kit messages out."""
