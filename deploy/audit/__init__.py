"""The dependency audit (`make audit`): requirements.lock against vendored OSV advisories."""
