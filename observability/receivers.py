"""The receivers of the alert routing file (ascolto/defaults/alert-routing.yaml), parsed and
rendered to Alertmanager's receiver configs.

A secret (a Slack webhook's URL, a PagerDuty routing key, an SMTP password, a webhook's bearer
token) is never a value in the routing file nor in the configuration generated from it: the
file names the file that holds it, and Alertmanager reads that file when it notifies
(its `*_file` fields). A relative name is taken in the secrets directory
(ASCOLTO_ALERT_SECRETS_DIR), where the deployment mounts them.

Alertmanager 0.25 (Debian bookworm's) has no `url_file` for a plain webhook: a webhook's URL
is therefore not secret here, and a webhook that needs a credential gets it from a file as a
bearer token (`http_config.authorization.credentials_file`). A URL that carries credentials
itself (`user:password@`, a token in the query) is refused.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ascolto.settings_table import ConfigError

# Alertmanager's notification templates: the alert's runbook in the message itself.
SLACK_TEXT = (
    "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n"
    "<{{ .Annotations.runbook_url }}|Runbook>\n{{ end }}"
)
RUNBOOK_LINK = "{{ (index .Alerts 0).Annotations.runbook_url }}"
PAGERDUTY_SEVERITY = '{{ if eq .CommonLabels.severity "page" }}critical{{ else }}warning{{ end }}'
SECRET_IN_QUERY = re.compile(r"(^|&)(token|key|secret|password|sig|signature)=", re.IGNORECASE)


class Fields:
    """One receiver's mapping from the file, read key by key: every error names where."""

    def __init__(self, where: str, raw: object, allowed: set[str]) -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: expected a mapping of {', '.join(sorted(allowed))}")
        unknown = sorted(set(raw) - allowed)
        if unknown:
            key = unknown[0]
            hint = f" (a secret goes in a file: {key}_file)" if f"{key}_file" in allowed else ""
            raise ConfigError(f"{where}: unknown key {key}{hint}")
        self.where = where
        self.raw = raw

    def optional(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"{self.where}.{key}: expected a non-empty text")
        return value

    def text(self, key: str) -> str:
        value = self.optional(key)
        if value is None:
            raise ConfigError(f"{self.where}.{key}: missing")
        return value

    def secret_file(self, key: str, secrets_dir: Path) -> str:
        """The secret file's path: a relative name is in the secrets directory."""
        name = self.text(key)
        if "://" in name or any(c.isspace() for c in name):
            # never echo it: it may be the secret itself, written in the file's place
            raise ConfigError(f"{self.where}.{key}: expected a file's name, not the secret")
        return str(secrets_dir / name)

    def optional_secret_file(self, key: str, secrets_dir: Path) -> str | None:
        return self.secret_file(key, secrets_dir) if key in self.raw else None

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where}.{key}: expected true or false")
        return value


@dataclass(frozen=True)
class Slack:
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat)."""

    api_url_file: str
    channel: str | None

    def render(self) -> tuple[str, dict[str, Any]]:
        config: dict[str, Any] = {"api_url_file": self.api_url_file, "send_resolved": True}
        if self.channel:
            config["channel"] = self.channel
        config.update({"title_link": RUNBOOK_LINK, "text": SLACK_TEXT})
        return "slack_configs", config


@dataclass(frozen=True)
class PagerDuty:
    """PagerDuty's Events API v2, by an integration's routing key."""

    routing_key_file: str

    def render(self) -> tuple[str, dict[str, Any]]:
        return "pagerduty_configs", {
            "routing_key_file": self.routing_key_file,
            "send_resolved": True,
            "severity": PAGERDUTY_SEVERITY,
            "links": [{"href": RUNBOOK_LINK, "text": "Runbook"}],
        }


@dataclass(frozen=True)
class Email:
    to: str
    sender: str
    smarthost: str
    auth_username: str | None
    auth_password_file: str | None
    require_tls: bool

    def render(self) -> tuple[str, dict[str, Any]]:
        config: dict[str, Any] = {
            "to": self.to,
            "from": self.sender,
            "smarthost": self.smarthost,
            "require_tls": self.require_tls,
            "send_resolved": True,
        }
        if self.auth_username:
            config["auth_username"] = self.auth_username
            config["auth_password_file"] = self.auth_password_file
        return "email_configs", config


@dataclass(frozen=True)
class Webhook:
    """Alertmanager's webhook JSON, POSTed to `url`."""

    url: str
    bearer_token_file: str | None

    def render(self) -> tuple[str, dict[str, Any]]:
        config: dict[str, Any] = {"url": self.url, "send_resolved": True}
        if self.bearer_token_file:
            config["http_config"] = {
                "authorization": {"type": "Bearer", "credentials_file": self.bearer_token_file}
            }
        return "webhook_configs", config


Receiver = Slack | PagerDuty | Email | Webhook


def parse_receiver(where: str, raw: object, secrets_dir: Path) -> Receiver:
    """One entry of a receiver list: a mapping with one key, the kind."""
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise ConfigError(f"{where}: expected one of slack, pagerduty, email, webhook")
    ((kind, body),) = raw.items()
    where = f"{where}.{kind}"
    if kind == "slack":
        f = Fields(where, body, {"api_url_file", "channel"})
        return Slack(f.secret_file("api_url_file", secrets_dir), f.optional("channel"))
    if kind == "pagerduty":
        f = Fields(where, body, {"routing_key_file"})
        return PagerDuty(f.secret_file("routing_key_file", secrets_dir))
    if kind == "email":
        return _email(Fields(where, body, EMAIL_KEYS), secrets_dir)
    if kind == "webhook":
        f = Fields(where, body, {"url", "bearer_token_file"})
        return Webhook(
            _url(where, f.text("url")), f.optional_secret_file("bearer_token_file", secrets_dir)
        )
    raise ConfigError(f"{where}: unknown receiver kind (slack, pagerduty, email or webhook)")


EMAIL_KEYS = {"to", "from", "smarthost", "auth_username", "auth_password_file", "require_tls"}


def _email(f: Fields, secrets_dir: Path) -> Email:
    username = f.optional("auth_username")
    password_file = f.optional_secret_file("auth_password_file", secrets_dir)
    if (username is None) != (password_file is None):
        raise ConfigError(f"{f.where}: auth_username and auth_password_file go together")
    smarthost = f.text("smarthost")
    if not re.fullmatch(r"[^\s:]+:\d+", smarthost):
        raise ConfigError(f"{f.where}.smarthost: expected host:port, got {smarthost!r}")
    return Email(
        f.text("to"),
        f.text("from"),
        smarthost,
        username,
        password_file,
        f.flag("require_tls", True),
    )


def _url(where: str, url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}.url: expected an http(s) URL")
    if parts.username or parts.password or SECRET_IN_QUERY.search(parts.query):
        # never echo the URL: it holds the credential
        raise ConfigError(
            f"{where}.url: carries a credential; put it in a file named by bearer_token_file"
        )
    return url
