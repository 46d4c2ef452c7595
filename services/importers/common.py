"""What every importer shares: the contact dict it yields, refusals, progress reports.

Importers are pure parsers: files in, ingest-format contact dicts out. They never
post anything; the CLI batches what they yield to the HTTP ingest service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, TypedDict

Channel = Literal["social", "email", "web_form", "chat", "phone"]
Direction = Literal["inbound", "outbound"]

UNKNOWN = "unknown"
"""Brand or customer handle when the source does not tell."""


class Contact(TypedDict):
    """One contact in the ingest JSON format (contact.v1 less contact_id/received_at)."""

    source: str
    source_id: str
    channel: Channel
    direction: Direction
    kind: Literal["message", "close"]
    brand: str
    customer_handle: str
    customer_email: str | None
    conversation_ref: str | None
    in_reply_to: str | None
    references: list[str]
    occurred_at: int
    subject: str | None
    body: str
    language: str | None
    attributes: dict[str, str]


def contact(
    *,
    source: str,
    source_id: str,
    channel: Channel,
    direction: Direction,
    brand: str,
    customer_handle: str,
    occurred_at: int,
    body: str,
    customer_email: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    subject: str | None = None,
    attributes: dict[str, str] | None = None,
) -> Contact:
    """A complete contact dict: every field present, defaults filled in."""
    return Contact(
        source=source,
        source_id=source_id,
        channel=channel,
        direction=direction,
        kind="message",
        brand=brand,
        customer_handle=customer_handle,
        customer_email=customer_email,
        conversation_ref=None,
        in_reply_to=in_reply_to,
        references=references or [],
        occurred_at=occurred_at,
        subject=subject,
        body=body,
        language=None,
        attributes=attributes or {},
    )


@dataclass(frozen=True)
class Refused:
    """An input item that was not turned into a contact, and why.

    row: 1-based position in the input: the CSV record number with the header as
    row 1 (records, not physical lines: quoted text may span lines), or the message
    number in an mbox / the file number in a sorted .eml folder.
    ref: what the row is known by, when known (tweet id, Message-ID, file name).
    """

    row: int
    reason: str
    ref: str | None = None


class Rows(Iterator["Contact | Refused"]):
    """What an importer yields, one item per row: its refusals, then its contacts in
    event-time order (services.importers.order); ``row`` is the row of the item yielded
    last, so a contact refused later (by ingest) can name its row."""

    def __init__(self, numbered: Iterable[tuple[int, Contact | Refused]]) -> None:
        self._numbered = iter(numbered)
        self.row = 0

    def __next__(self) -> Contact | Refused:
        self.row, item = next(self._numbered)
        return item


@dataclass(frozen=True)
class Progress:
    """How far an import has read, for a progress bar.

    bytes_done runs from 0 to bytes_total over the whole import. An importer that
    reads its file twice (the Twitter one) counts both passes, so bytes_total is
    twice the file size there. rows_done counts rows of the current phase.
    """

    phase: str
    rows_done: int
    bytes_done: int
    bytes_total: int

    @property
    def fraction(self) -> float:
        return self.bytes_done / self.bytes_total if self.bytes_total else 1.0


ProgressCallback = Callable[[Progress], None]


@dataclass
class PassProgress:
    """Progress of an importer reading its file twice: bytes over twice the file's size,
    rows counted per pass."""

    callback: ProgressCallback | None
    every: int
    size: int
    rows: int = 0

    def step(self, phase: str, bytes_done: int) -> None:
        self.rows += 1
        if self.callback is not None and self.rows % self.every == 0:
            self.callback(Progress(phase, self.rows, bytes_done, 2 * self.size))

    def end(self, phase: str, bytes_done: int) -> None:
        if self.callback is not None:
            self.callback(Progress(phase, self.rows, bytes_done, 2 * self.size))
        self.rows = 0


class ReadOptions(TypedDict, total=False):
    """The keyword options of a read function; each importer documents its defaults.

    on_progress: called with a `Progress` every progress_every rows and at the end;
    keep_repeats: an id seen again yields the same contact again instead of a `Refused`.
    """

    on_progress: ProgressCallback | None
    progress_every: int
    keep_repeats: bool


def epoch_millis(moment: datetime) -> int:
    """UTC epoch milliseconds; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MILLI


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLI = timedelta(milliseconds=1)
