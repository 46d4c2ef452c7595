"""Email archives (an mbox file, or a folder of .eml files) -> contacts.

Which side wrote a message is told by the agent directory: a mapping of agent
addresses ("support@acme.com") and domains ("@acme.com") to brands. A message
whose From is an agent is outbound; anything else is from a customer.
"""

from __future__ import annotations

import hashlib
import mailbox
import os
import re
from collections.abc import Iterator, Mapping
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Protocol, Unpack

from ascolto.validation import MAX_ATTRIBUTE_CHARS, MAX_BODY_CHARS, MAX_SUBJECT_CHARS
from services.importers.common import (
    UNKNOWN,
    Contact,
    Direction,
    PassProgress,
    ReadOptions,
    Refused,
    Rows,
    contact,
    epoch_millis,
)
from services.importers.order import EventOrder

SOURCE = "email"
DERIVED_ID_ATTRIBUTE = "message_id_derived"
"""Set to "true" in attributes when the message had no Message-ID and one was derived."""

TRUNCATED_ATTRIBUTE = "truncated"
"""Which of body and subject were cut to ingest's limits (long quoted history), e.g. "body"."""

ATTACHMENTS_ATTRIBUTE = "attachments"
"""The file names (else content types) of the attachments, comma-separated: an e-mail of a
photo or an invoice alone has no body, and the record still says what it carried."""


_ANGLE_ID = re.compile(r"<([^<>\s]+)>")


class AgentDirectory:
    """Agent addresses and domains -> brand. Keys: "support@acme.com" or "@acme.com".

    An exact address wins over its domain. Matching ignores case; a domain key
    matches that domain only, not its subdomains.
    """

    def __init__(self, agents: Mapping[str, str]) -> None:
        self._addresses: dict[str, str] = {}
        self._domains: dict[str, str] = {}
        for key, brand in agents.items():
            key = key.strip().lower()
            if key.startswith("@"):
                self._domains[key[1:]] = brand
            elif "@" in key:
                self._addresses[key] = brand
            else:
                raise ValueError(f"agent key {key!r} is neither an address nor an @domain")

    def brand_of(self, address: str) -> str | None:
        """The brand an address is an agent of, or None for a customer address."""
        address = address.strip().lower()
        if address in self._addresses:
            return self._addresses[address]
        _, at, domain = address.rpartition("@")
        return self._domains.get(domain) if at else None


# --- headers -------------------------------------------------------------------------------


def _addresses(message: Message, *names: str) -> list[str]:
    """Lower-cased addr-specs of the named headers, in header order."""
    values: list[str] = []
    for name in names:
        values.extend(str(v) for v in message.get_all(name, []))
    return [addr.strip().lower() for _, addr in getaddresses(values) if "@" in addr]


def message_ids(value: str | None) -> list[str]:
    """Ids of an In-Reply-To/References value, without <>; bare tokens if none are bracketed."""
    if not value:
        return []
    bracketed = _ANGLE_ID.findall(value)
    return bracketed or value.split()


def _header(message: Message, name: str, *, strict: bool = False) -> str | None:
    """The value with whitespace runs squeezed, or None if absent.

    The email parser raises on some malformed values (``Message-ID: <>``); then the raw
    text is used, or None if strict.
    """
    try:
        value = message.get(name)
    except Exception:
        if strict:
            return None
        value = next((v for k, v in message.raw_items() if k.lower() == name.lower()), None)
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _message_id(message: Message) -> str | None:
    """The Message-ID without <>; None if missing or unparsable (a derived id stands in)."""
    ids = message_ids(_header(message, "Message-ID", strict=True))
    return ids[0] if ids else None


# --- body ----------------------------------------------------------------------------------

_BLOCK_TAGS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML body: tags dropped, entities decoded, blank runs squeezed."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _content(part: Message) -> str:
    try:
        return str(part.get_content())  # type: ignore[attr-defined]
    except (LookupError, ValueError, AttributeError):  # unknown charset, broken encoding
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""


def body_text(message: EmailMessage) -> str:
    """The text/plain body; else (missing or blank) the text of the HTML body; else, for a
    multipart whose parts cannot be found (no boundary, or not in the text), its raw text;
    else "" (an email of attachments only)."""
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None and (text := _content(plain).strip()):
        return text
    html = message.get_body(preferencelist=("html",))
    if html is not None and (text := html_to_text(_content(html))):
        return text
    payload = message.get_payload()
    if message.get_content_maintype() == "multipart" and isinstance(payload, str):  # no parts found
        return payload.strip()
    return ""


def attachment_names(message: EmailMessage) -> str:
    """The attachments' file names (else content types), within an attribute's limit."""
    try:
        parts = list(message.iter_attachments())
    except (KeyError, TypeError, ValueError):  # a multipart whose parts cannot be read
        return ""
    names = ", ".join(
        " ".join((part.get_filename() or part.get_content_type()).split()) for part in parts
    )
    return names[:MAX_ATTRIBUTE_CHARS]


# --- one message ---------------------------------------------------------------------------


def _within_limits(body: str, subject: str | None) -> tuple[str, str | None, list[str]]:
    """Body and subject cut to ingest's limits, and the names of those that were cut."""
    cut: list[str] = []
    if subject is not None and len(subject) > MAX_SUBJECT_CHARS:
        subject = subject[:MAX_SUBJECT_CHARS]
        cut.append("subject")
    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS]
        cut.append("body")
    return body, subject, cut


def derived_id(message: Message, body: str) -> str:
    """A stable stand-in Message-ID: a hash of the identifying headers and the body."""
    digest = hashlib.sha256()
    for name in ("From", "To", "Cc", "Date", "Subject", "In-Reply-To", "References"):
        digest.update(f"{name}:{_header(message, name) or ''}\n".encode())
    digest.update(body.encode())
    return f"sha256-{digest.hexdigest()[:32]}@derived.ascolto"


def to_contact(message: EmailMessage, agents: AgentDirectory) -> Contact:
    """One parsed message -> contact; ValueError with the reason if it cannot be one."""
    raw_date = _header(message, "Date")
    if raw_date is None:
        raise ValueError("missing Date header")
    try:
        occurred_at = epoch_millis(parsedate_to_datetime(raw_date))
    except (TypeError, ValueError, IndexError, OverflowError):
        raise ValueError(f"unparsable Date {raw_date!r}") from None

    senders = _addresses(message, "From")
    sender = senders[0] if senders else None
    sender_brand = agents.brand_of(sender) if sender else None
    to = _addresses(message, "To")
    cc = _addresses(message, "Cc")
    attributes: dict[str, str] = {}
    direction: Direction
    if sender_brand is not None:
        direction = "outbound"
        brand = sender_brand
        customers = [a for a in to if agents.brand_of(a) is None]
        customers = customers or [a for a in cc if agents.brand_of(a) is None]
        customer = customers[0] if customers else None
        attributes["agent_address"] = sender or ""
    else:
        direction = "inbound"
        brands = [b for b in map(agents.brand_of, to + cc) if b is not None]
        brand = brands[0] if brands else UNKNOWN
        customer = sender

    body, subject, cut = _within_limits(body_text(message), _header(message, "Subject"))
    if cut:
        attributes[TRUNCATED_ATTRIBUTE] = ",".join(cut)
    if attachments := attachment_names(message):
        attributes[ATTACHMENTS_ATTRIBUTE] = attachments
    source_id = _message_id(message)
    if source_id is None:
        source_id = derived_id(message, body)
        attributes[DERIVED_ID_ATTRIBUTE] = "true"
    parents = message_ids(_header(message, "In-Reply-To"))
    return contact(
        source=SOURCE,
        source_id=source_id,
        channel="email",
        direction=direction,
        brand=brand,
        customer_handle=customer or UNKNOWN,
        customer_email=customer,
        occurred_at=occurred_at,
        body=body,
        in_reply_to=parents[0] if parents else None,
        references=message_ids(_header(message, "References")),
        subject=subject,
        attributes=attributes,
    )


def parse_message(raw: bytes, agents: AgentDirectory) -> Contact:
    """RFC 5322 bytes -> contact; ValueError with the reason if it cannot be one."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return to_contact(message, agents)


# --- archives ------------------------------------------------------------------------------


Agents = Mapping[str, str] | AgentDirectory


def read_mbox(path: str | os.PathLike[str], agents: Agents, **options: Unpack[ReadOptions]) -> Rows:
    """Contacts of an mbox file; row = message number (1-based). Order: see `read_mail`."""
    return _rows(_Mbox(path), os.path.getsize(path), agents, options)


class _Mbox:
    """An mbox's messages by key, in file order or one at a time (its table of contents
    holds each message's offsets)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._box = mailbox.mbox(os.fspath(path), create=False)
        self._keys = list(self._box.iterkeys())

    def __iter__(self) -> Iterator[tuple[int, str | None, bytes]]:
        for number in range(len(self._keys)):
            yield number, *self.at(number)

    def at(self, number: int) -> tuple[str | None, bytes]:
        return None, self._box.get_bytes(self._keys[number])

    def close(self) -> None:
        self._box.close()


class _EmlFiles:
    """The .eml files under a folder (recursively, sorted by relative path), by number."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self.files = sorted(
            (p for p in root.rglob("*") if p.is_file() and p.suffix.lower() == ".eml"),
            key=lambda p: p.relative_to(root).as_posix(),
        )

    def __iter__(self) -> Iterator[tuple[int, str | None, bytes]]:
        for number in range(len(self.files)):
            yield number, *self.at(number)

    def at(self, number: int) -> tuple[str | None, bytes]:
        path = self.files[number]
        return path.relative_to(self._root).as_posix(), path.read_bytes()

    def close(self) -> None:
        pass


def read_eml_folder(
    path: str | os.PathLike[str], agents: Agents, **options: Unpack[ReadOptions]
) -> Rows:
    """Contacts of the .eml files under a folder (recursively, sorted by relative path).

    row = the file's number in that order; Refused.ref names the file.
    """
    files = _EmlFiles(Path(path))
    return _rows(files, sum(p.stat().st_size for p in files.files), agents, options)


def read_mail(path: str | os.PathLike[str], agents: Agents, **options: Unpack[ReadOptions]) -> Rows:
    """`read_eml_folder` for a folder, `read_mbox` for a file.

    The messages are read twice: first every one is parsed, and its refusal, if any, kept;
    then the refusals are yielded in file order, and the contacts in event-time order
    (occurred_at, then file order: services.importers.order), each message read again.

    Options (`ReadOptions`): progress every 100 messages unless progress_every says
    otherwise; a Message-ID seen again is refused as a repeat unless keep_repeats.
    """
    read = read_eml_folder if Path(path).is_dir() else read_mbox
    return read(path, agents, **options)


def _rows(messages: _Messages, size: int, agents: Agents, options: ReadOptions) -> Rows:
    directory = agents if isinstance(agents, AgentDirectory) else AgentDirectory(agents)
    progress = PassProgress(
        options.get("on_progress"), max(1, options.get("progress_every", 100)), size
    )
    keep_repeats = options.get("keep_repeats", False)
    return Rows(_read(messages, directory, progress, keep_repeats))


def _item(row: int, ref: str | None, raw: bytes, agents: AgentDirectory) -> Contact | Refused:
    try:
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
    except Exception as e:  # one bad message must not end the import
        return Refused(row, f"unparsable message: {type(e).__name__}: {e}", ref)
    try:
        return to_contact(message, agents)
    except Exception as e:
        reason = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
        return Refused(row, reason, ref or _message_id(message))


def _read(
    messages: _Messages, agents: AgentDirectory, progress: PassProgress, keep_repeats: bool
) -> Iterator[tuple[int, Contact | Refused]]:
    """(row, contact or refusal) per message: refusals (a repeat's decided in file order, the
    first one kept) first, then contacts by (occurred_at, row)."""
    first_seen: dict[str, tuple[int, str | None]] = {}
    refused: list[tuple[int, Refused]] = []
    size, done = progress.size, 0
    try:
        with EventOrder() as order:
            for row, (position, ref, raw) in enumerate(messages, 1):
                item = _item(row, ref, raw, agents)
                if not isinstance(item, Refused):
                    source_id = item["source_id"]
                    first, first_ref = first_seen.setdefault(source_id, (row, ref))
                    if first != row and not keep_repeats:
                        where = f"message {first}" if first_ref is None else f"file {first_ref}"
                        reason = f"repeat of Message-ID {source_id} first seen at {where}"
                        item = Refused(row, reason, ref or source_id)
                if isinstance(item, Refused):
                    refused.append((row, item))
                else:
                    order.add(item["occurred_at"], row, row, position)
                done += len(raw)
                progress.step("index", min(done, size))
            progress.end("index", size)
            first_seen.clear()
            for row, refusal in refused:
                yield row, refusal
                progress.step("emit", size)
            done = 0
            for row, position in order:
                ref, raw = messages.at(position)
                yield row, _item(row, ref, raw, agents)
                done += len(raw)
                progress.step("emit", size + min(done, size))
            progress.end("emit", 2 * size)
    finally:
        messages.close()


class _Messages(Protocol):
    """Messages of an archive: (position, file name or None, bytes) in file order, and one
    message again by its position."""

    def __iter__(self) -> Iterator[tuple[int, str | None, bytes]]: ...
    def at(self, position: int) -> tuple[str | None, bytes]: ...
    def close(self) -> None: ...
