"""Runs an importer: read the archive, post it to ingest in batches, report refusals.

Archives take the same path as live traffic (HTTP ingest -> Kafka -> worker), so an import
is deduplicated, enriched and threaded exactly like live contacts, and running it twice
counts nothing twice (contact ids derive from (source, source_id)).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from tqdm import tqdm

from ascolto.config import Settings
from services.client import IngestCredential, json_size, post_batch, size_batches
from services.importers.common import Progress, ProgressCallback, Refused
from services.observe import wait_settled


@dataclass
class ImportResult:
    read: int = 0
    accepted: int = 0
    refused: list[Refused] = field(default_factory=list)

    @property
    def bad(self) -> list[Refused]:
        """The refusals that lost a row; a repeat of a row already imported loses nothing."""
        return [r for r in self.refused if not r.reason.startswith("repeat of")]

    @property
    def exit_code(self) -> int:
        """1 when a row was refused, for scripts: everything else was imported all the same."""
        return 1 if self.bad else 0


Reader = Callable[[ProgressCallback], Iterable[Any]]
"""Yields contacts and `Refused` rows; a `Rows` also tells each contact's row."""


def run_import(
    settings: Settings,
    reader: Reader,
    *,
    wait: bool = False,
    batch_size: int = 1000,
    progress: bool = True,
    out: TextIO = sys.stderr,
) -> ImportResult:
    result = ImportResult()
    bar = tqdm(total=1000, unit="‰", disable=not progress, file=out, desc="importing")

    def on_progress(p: Progress) -> None:
        bar.set_postfix_str(f"{p.phase} {p.rows_done} rows")
        bar.n = int(p.fraction * 1000)
        bar.refresh()

    url = settings.ingest.url
    credential = IngestCredential.from_settings(settings.ingest)
    max_bytes = settings.ingest.max_body_bytes
    sized = _sized(_contacts(reader(on_progress), result), max_bytes, result)
    for batch in size_batches(sized, min(batch_size, settings.ingest.max_batch), max_bytes):
        items = [item for _, item in batch]
        status, answer = post_batch(url, items, partial=True, credential=credential)
        if status != 202:
            raise RuntimeError(f"ingest answered {status}: {answer.get('error', answer)}")
        result.accepted += answer["accepted"]
        for refusal in answer["refused"]:
            row, item = batch[refusal["index"]]
            reason = "ingest: " + "; ".join(refusal["errors"])
            result.refused.append(Refused(row, reason, item.get("source_id")))
    bar.n = 1000
    bar.close()
    if wait:
        wait_settled(settings, timeout_s=max(300.0, result.accepted / 200))
    return result


def _contacts(items: Iterable[Any], result: ImportResult) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row, contact) per contact, row 0 if the reader does not tell; refusals go to result."""
    for item in items:
        result.read += 1
        if isinstance(item, Refused):
            result.refused.append(item)
        else:
            yield getattr(items, "row", 0), dict(item)


def _sized(
    contacts: Iterable[tuple[int, dict[str, Any]]], max_bytes: int, result: ImportResult
) -> Iterator[tuple[int, tuple[int, dict[str, Any]]]]:
    """(JSON size, (row, contact)) per contact that fits in one request; the others refused."""
    for row, item in contacts:
        size = json_size(item)
        if size + 2 > max_bytes:  # + the batch's brackets
            reason = f"{size} bytes as JSON, more than ingest takes in a request ({max_bytes})"
            result.refused.append(Refused(row, reason, item.get("source_id")))
        else:
            yield size, (row, item)


def print_summary(result: ImportResult, out: TextIO = sys.stdout, show: int = 20) -> None:
    bad = result.bad
    repeats = len(result.refused) - len(bad)
    print(f"read {result.read} rows: {result.accepted} contacts accepted, "
          f"{repeats} repeated rows skipped, {len(bad)} refused", file=out)  # fmt: skip
    for r in bad[:show]:
        where = f"row {r.row}" if r.row > 0 else "row ?"
        print(f"  refused {where}{f' ({r.ref})' if r.ref else ''}: {r.reason}", file=out)
    if len(bad) > show:
        print(f"  ... and {len(bad) - show} more", file=out)
