"""gatewatch's CDK code: the configuration model, the `Gatewatch` construct and the standalone stack."""
