"""The gatewatch engine: what the Lambdas run, and nothing else (no AWS call outside `adapters`)."""
