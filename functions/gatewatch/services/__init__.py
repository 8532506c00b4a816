"""The Lambdas' flows, behind their thin handlers: analyzer (event -> alerts -> EMF), notifier (SNS -> Slack)."""
