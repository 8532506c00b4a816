"""Lambda events (subscription, Kinesis, Firehose) in; `LogBatch`es of log events, or counted `Rejection`s, out."""
