"""The HTTP policy every provider call goes through: timeouts, retries, rate limits, error mapping."""
