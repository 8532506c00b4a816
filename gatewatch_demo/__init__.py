"""`gatewatch demo`: the whole pipeline on one machine (moto as the local AWS, a loopback Slack).

Nothing here is imported by the Lambda handlers; the CDK bundle leaves this package out.
"""
