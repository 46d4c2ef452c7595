"""Twitter customer-support archive (the Kaggle "Customer Support on Twitter" CSV) -> contacts.

Columns: tweet_id, author_id, inbound, created_at, text, response_tweet_id,
in_response_to_tweet_id. Rows come in no particular order and a file can hold
millions of them, so the file is read twice:

1. index: for every valid row, keep only what the mapping needs of other rows
   (author, inbound, parent, created_at), plus each tweet's earliest brand reply
   and the set of brand handles. Texts are not kept.
2. emit: yield the bad rows (`Refused`), then read the valid rows again, each from the
   byte offset noted in pass 1, in event-time order (services.importers.order), and
   yield one contact (or a `Refused` repeat) per row.

Mapping rules (see `read_archive`) look only at the index, so the answer is the
same whatever order the rows come in.
"""

from __future__ import annotations

import io
import os
import re
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import BinaryIO

from services.importers.common import (
    UNKNOWN,
    Contact,
    PassProgress,
    ProgressCallback,
    Refused,
    Rows,
    contact,
    epoch_millis,
)
from services.importers.csv_records import Records, mapped, record_at
from services.importers.order import EventOrder

SOURCE = "twitter"
COLUMNS = (
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
)

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    )
}
_MENTION = re.compile(r"@([A-Za-z0-9_]+)")
_INT_ID = re.compile(r"\d+(?:\.0*)?")
_NO_PARENT = -1
_ID_LIMIT = 2**63  # ids are kept in signed 64-bit arrays, as Twitter's own are
_IN_ORDER = tuple(range(len(COLUMNS)))


# --- field parsers ---------------------------------------------------------------------------


def parse_created_at(value: str) -> int:
    """'Tue Oct 31 22:10:47 +0000 2017' -> UTC epoch millis; ValueError if it is not that."""
    parts = value.split()
    try:
        _, month, day, hms, offset, year = parts
        hour, minute, second = (int(x) for x in hms.split(":"))
        if not (0 <= hour < 24 and 0 <= minute < 60 and 0 <= second < 61):
            raise ValueError
        if len(offset) != 5 or offset[0] not in "+-":
            raise ValueError
        shift = int(offset[1:3]) * 3600 + int(offset[3:5]) * 60
        seconds = _day_start(int(year), _MONTHS[month], int(day)) + hour * 3600 + minute * 60
        seconds += second - (shift if offset[0] == "+" else -shift)
    except (ValueError, KeyError):
        raise ValueError(f"unparsable created_at {value!r}") from None
    return seconds * 1000


@lru_cache(maxsize=4096)
def _day_start(year: int, month: int, day: int) -> int:
    """Epoch seconds of a UTC midnight; ValueError for a date that does not exist."""
    return epoch_millis(datetime(year, month, day, tzinfo=UTC)) // 1000


def normalise_id(value: str) -> int | None:
    """A tweet id as an int: '119237', '119237.0' and '1.19237e+05' are all 119237.

    Empty -> None; anything that is not a whole non-negative number -> ValueError.
    """
    value = value.strip()
    if not value:
        return None
    if _INT_ID.fullmatch(value):
        number = int(value.partition(".")[0])
    else:
        try:
            decimal = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"bad id {value!r}") from None
        if not decimal.is_finite() or decimal != decimal.to_integral_value():
            raise ValueError(f"bad id {value!r}")
        number = int(decimal)
    if not 0 <= number < _ID_LIMIT:
        raise ValueError(f"bad id {value!r}")
    return number


def _parse_inbound(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(f"bad inbound {value!r} (want True/False)")


@dataclass(frozen=True, slots=True)
class Tweet:
    """One valid row."""

    tweet_id: int
    author: str
    inbound: bool
    created_at: int
    in_response_to: int | None
    text: str
    response_tweet_id: str  # as written; see `response_ids`


def parse_row(
    fields: list[str], at: tuple[int, ...] = _IN_ORDER, width: int = len(COLUMNS)
) -> Tweet:
    """One CSV record -> Tweet; ValueError with the reason if the row is bad.

    at: the position of each of COLUMNS in the record; width: how many fields it has.
    """
    if len(fields) != width:
        raise ValueError(f"expected {width} columns, got {len(fields)}")
    raw_id, author, inbound, created, text, responses, raw_parent = (fields[i] for i in at)
    if raw_id.strip().lower() == "tweet_id":
        raise ValueError("repeated header row")
    try:
        tweet_id = normalise_id(raw_id)
    except ValueError as e:
        raise ValueError(f"tweet_id: {e}") from None
    if tweet_id is None:
        raise ValueError("missing tweet_id")
    author = author.strip()
    if not author:
        raise ValueError("missing author_id")
    try:
        parent = normalise_id(raw_parent)
    except ValueError as e:
        raise ValueError(f"in_response_to_tweet_id: {e}") from None
    if parent == tweet_id:
        raise ValueError("tweet answers itself (in_response_to_tweet_id == tweet_id)")
    return Tweet(
        tweet_id,
        author,
        _parse_inbound(inbound),
        parse_created_at(created),
        parent,
        text,
        responses,
    )


def response_ids(value: str) -> list[int]:
    """The response_tweet_id list; entries that are not ids are skipped (the column is
    informational: threading follows in_response_to_tweet_id)."""
    ids = []
    for part in value.split(","):
        try:
            rid = normalise_id(part)
        except ValueError:
            continue
        if rid is not None:
            ids.append(rid)
    return ids


# --- reading records, counting bytes ---------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    at: tuple[int, ...]  # position of each of COLUMNS
    width: int  # fields a row must have


_KAGGLE = _Layout(_IN_ORDER, len(COLUMNS))


def _layout(first: list[str] | str) -> tuple[_Layout, bool, str | None]:
    """The layout told by row 1: (layout, row 1 is data, refusal reason for row 1)."""
    if isinstance(first, str):
        return _KAGGLE, False, first
    names = [f.strip().lower() for f in first]
    if set(COLUMNS) <= set(names) and len(set(names)) == len(names):
        return _Layout(tuple(names.index(c) for c in COLUMNS), len(names)), False, None
    if len(first) == len(COLUMNS) and _INT_ID.fullmatch(first[0].strip()):
        return _KAGGLE, True, None  # no header: the Kaggle column order
    missing = ", ".join(c for c in COLUMNS if c not in names)
    return _KAGGLE, False, f"no usable header (missing {missing}); assuming the Kaggle order"


# --- the index ------------------------------------------------------------------------------


class _Index:
    """Per tweet only what other rows need: author, inbound, created_at, parent, first row.

    Parallel arrays keep this near 200 bytes a tweet (about 550 MB for the 2.8M rows of
    the Kaggle file); texts are not kept.
    """

    def __init__(self) -> None:
        self.slot: dict[int, int] = {}
        self.ids = array("q")
        self.author: list[str] = []
        self.inbound = bytearray()
        self.created = array("q")
        self.parent = array("q")
        self.first_row = array("q")
        self.earliest_reply: dict[int, int] = {}  # parent tweet id -> slot of its first brand reply
        self.brands: dict[str, str] = {}  # lower-cased handle -> handle as written

    def add(self, tweet: Tweet, row: int) -> None:
        if tweet.tweet_id in self.slot:
            return  # a repeat: the first occurrence stands
        slot = len(self.author)
        self.slot[tweet.tweet_id] = slot
        self.ids.append(tweet.tweet_id)
        self.author.append(sys.intern(tweet.author))
        self.inbound.append(tweet.inbound)
        self.created.append(tweet.created_at)
        self.parent.append(_NO_PARENT if tweet.in_response_to is None else tweet.in_response_to)
        self.first_row.append(row)
        if tweet.inbound:
            return
        self.brands.setdefault(tweet.author.lower(), self.author[slot])
        if tweet.in_response_to is not None:
            best = self.earliest_reply.get(tweet.in_response_to)
            key = (tweet.created_at, tweet.tweet_id)
            if best is None or key < (self.created[best], self.ids[best]):
                self.earliest_reply[tweet.in_response_to] = slot

    def brand_of_inbound(self, tweet: Tweet) -> str:
        reply = self.earliest_reply.get(tweet.tweet_id)
        if reply is not None:
            return self.author[reply]
        if tweet.in_response_to is not None:
            parent = self.slot.get(tweet.in_response_to)
            if parent is not None and not self.inbound[parent]:
                return self.author[parent]
        for handle in _MENTION.findall(tweet.text):
            brand = self.brands.get(handle.lower())
            if brand is not None:
                return brand
        return UNKNOWN

    def customer_of_outbound(self, tweet: Tweet) -> str:
        seen: set[int] = set()
        current = tweet.in_response_to
        while current is not None and current not in seen:
            seen.add(current)
            slot = self.slot.get(current)
            if slot is None:
                break
            if self.inbound[slot]:
                return self.author[slot]
            parent = self.parent[slot]
            current = None if parent == _NO_PARENT else parent
        return UNKNOWN

    def conflict(self, tweet: Tweet) -> str | None:
        """How a repeated tweet_id differs from its first occurrence, if it does."""
        slot = self.slot[tweet.tweet_id]
        parent = self.parent[slot]
        differs = [
            name
            for name, same in (
                ("author_id", self.author[slot] == tweet.author),
                ("inbound", bool(self.inbound[slot]) == tweet.inbound),
                ("created_at", self.created[slot] == tweet.created_at),
                (
                    "in_response_to_tweet_id",
                    (None if parent == _NO_PARENT else parent) == tweet.in_response_to,
                ),
            )
            if not same
        ]
        return ", ".join(differs) or None


# --- the importer ---------------------------------------------------------------------------


def to_contact(tweet: Tweet, index: _Index) -> Contact:
    attributes = {"author_id": tweet.author}
    responses = response_ids(tweet.response_tweet_id)
    if responses:
        attributes["response_tweet_ids"] = ",".join(str(r) for r in responses)
    if tweet.inbound:
        brand, customer = index.brand_of_inbound(tweet), tweet.author
    else:
        brand, customer = tweet.author, index.customer_of_outbound(tweet)
    return contact(
        source=SOURCE,
        source_id=str(tweet.tweet_id),
        channel="social",
        direction="inbound" if tweet.inbound else "outbound",
        brand=brand,
        customer_handle=customer,
        occurred_at=tweet.created_at,
        body=tweet.text,
        in_reply_to=None if tweet.in_response_to is None else str(tweet.in_response_to),
        attributes=attributes,
    )


Opener = Callable[[], BinaryIO]


def read_archive(
    path: str | os.PathLike[str],
    *,
    on_progress: ProgressCallback | None = None,
    progress_every: int = 10_000,
    keep_repeats: bool = False,
) -> Rows:
    """Contacts of a Twitter support archive, one per row, or a `Refused`: the bad rows first
    in file order, then the others by (created_at, tweet_id, row).

    Mapping: source "twitter", source_id = tweet_id, channel "social", inbound iff
    inbound=True, in_reply_to = in_response_to_tweet_id.
    - outbound: brand = its author; customer = author of the nearest inbound ancestor
      (following in_response_to), else "unknown".
    - inbound: customer = its author; brand = author of its earliest brand reply, else
      the author of the outbound tweet it answers, else the first @mention naming a
      handle that authored outbound tweets in this file (matched case-insensitively,
      written as that handle spells itself), else "unknown".

    Bad rows are yielded as `Refused(row, reason, tweet_id-if-known)`. A tweet_id seen
    again is refused as a repeat (naming the first row) unless keep_repeats, which
    yields the same contact again (ingest is idempotent on (source, source_id)).

    on_progress gets a `Progress` every progress_every rows and at the end of each
    pass; bytes_total is twice the file size since the file is read twice.
    """
    size = os.path.getsize(path)
    return Rows(_read(lambda: open(path, "rb"), size, on_progress, progress_every, keep_repeats))


def read_archive_bytes(
    data: bytes,
    *,
    on_progress: ProgressCallback | None = None,
    progress_every: int = 10_000,
    keep_repeats: bool = False,
) -> Rows:
    """`read_archive` over CSV held in memory."""
    return Rows(
        _read(lambda: io.BytesIO(data), len(data), on_progress, progress_every, keep_repeats)
    )


class _Parser:
    """Records -> (row, Tweet or Refused); row 1 tells the layout of the others."""

    def __init__(self) -> None:
        self.layout = _KAGGLE

    def rows(
        self, records: Iterable[tuple[int, list[str] | str]]
    ) -> Iterator[tuple[int, Tweet | Refused]]:
        """(row, Tweet) per valid row, (row, Refused) per bad one; the header is consumed."""
        for row, fields in records:
            if row == 1:
                self.layout, row1_is_data, reason = _layout(fields)
                if reason is not None:
                    yield row, Refused(row, reason)
                if not row1_is_data:
                    continue
            yield row, self.parse(row, fields)

    def parse(self, row: int, fields: list[str] | str) -> Tweet | Refused:
        if isinstance(fields, str):
            return Refused(row, fields)
        try:
            return parse_row(fields, self.layout.at, self.layout.width)
        except ValueError as e:
            position = self.layout.at[0]
            ref = fields[position].strip() if position < len(fields) else ""
            return Refused(row, str(e), ref or None)


def _read(
    opener: Opener,
    size: int,
    on_progress: ProgressCallback | None,
    every: int,
    keep_repeats: bool,
) -> Iterator[tuple[int, Contact | Refused]]:
    """Pass 1 indexes the valid rows and notes each one's sort key and byte offset; bad rows
    are yielded first, in file order; pass 2 reads the valid rows again in event-time order
    (created_at, then tweet_id, then row), each from its offset."""
    index, parser, refused = _Index(), _Parser(), []
    progress = PassProgress(on_progress, max(1, every), size)
    with EventOrder() as order:
        with opener() as stream:
            records = Records(stream)
            for row, tweet in parser.rows(records):
                if isinstance(tweet, Tweet):
                    index.add(tweet, row)
                    order.add(tweet.created_at, tweet.tweet_id, row, records.start)
                else:
                    refused.append((row, tweet))
                progress.step("index", records.bytes_read)
            progress.end("index", size)
        yield from refused
        del refused
        with opener() as stream, mapped(stream) as data:
            done = 0
            for row, offset in order:
                fields, length = record_at(data, offset)
                done += length
                progress.step("emit", size + done)
                yield row, _emitted(row, parser.parse(row, fields), index, keep_repeats)
            progress.end("emit", 2 * size)


def _emitted(
    row: int, tweet: Tweet | Refused, index: _Index, keep_repeats: bool
) -> Contact | Refused:
    if isinstance(tweet, Refused):  # the file changed under the import
        return tweet
    first = index.first_row[index.slot[tweet.tweet_id]]
    if first != row and not keep_repeats:
        conflict = index.conflict(tweet)
        reason = f"repeat of tweet_id {tweet.tweet_id} first seen at row {first}"
        if conflict:
            reason += f", differing in {conflict} (first row kept)"
        return Refused(row, reason, str(tweet.tweet_id))
    return to_contact(tweet, index)
