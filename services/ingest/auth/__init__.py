"""Who may post to ingest: API keys, signed requests, scopes and rate limits."""
