"""Code shared by the ingest services and the stream workers: settings, validation, readiness."""
