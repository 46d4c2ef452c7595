"""CSV records of a binary file, numbered and located: the first pass of an importer notes
where each record starts, the second reads records back from there in another order."""

from __future__ import annotations

import csv
import io
import mmap
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO


class Records:
    """CSV records of a binary stream, numbered (header = row 1), counting bytes read;
    ``start`` is where the record yielded last starts."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.bytes_read = 0
        self.start = 0

    def _lines(self) -> Iterator[str]:
        first = True
        for raw in self._stream:
            self.bytes_read += len(raw)
            line = raw.decode("utf-8", errors="replace")
            if first:
                line, first = line.removeprefix("\ufeff"), False
            yield line

    def __iter__(self) -> Iterator[tuple[int, list[str] | str]]:
        """(row, fields) per record, or (row, reason) when the CSV itself is broken there."""
        reader = csv.reader(self._lines(), strict=False)
        row = 0
        while True:
            start = self.bytes_read  # the reader takes a line only when a record needs it
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                row += 1
                self.start = start
                yield row, f"CSV error: {e}"
                continue
            row += 1
            if fields:  # a blank line carries nothing to refuse
                self.start = start
                yield row, fields


Buffer = bytes | mmap.mmap


@contextmanager
def mapped(stream: BinaryIO) -> Iterator[Buffer]:
    """A stream's bytes for reading records in any order: a file memory-mapped (through a
    buffered stream, which refills its 8 KB on every seek, 186,000 rows took 36 s to import
    instead of 22 s), an in-memory stream's bytes."""
    if isinstance(stream, io.BytesIO):
        yield stream.getvalue()
        return
    if os.fstat(stream.fileno()).st_size == 0:
        yield b""  # an empty file cannot be mapped
        return
    with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
        yield data


class _LinesAt:
    """Lines of a buffer from an offset; ``end`` is where the last line yielded ends."""

    def __init__(self, data: Buffer, offset: int) -> None:
        self.data = data
        self.end = offset

    def __iter__(self) -> Iterator[str]:
        data = self.data
        while self.end < len(data):
            stop = data.find(b"\n", self.end)
            stop = len(data) if stop < 0 else stop + 1
            raw, self.end = data[self.end : stop], stop
            yield raw.decode("utf-8", errors="replace")


def record_at(data: Buffer, offset: int) -> tuple[list[str] | str, int]:
    """The record starting at a byte offset the first pass noted (its fields, or the CSV
    error there), and its length in bytes."""
    lines = _LinesAt(data, offset)
    try:
        fields = next(csv.reader(lines, strict=False))
    except csv.Error as e:
        return f"CSV error: {e}", lines.end - offset
    except StopIteration:
        raise ValueError(
            f"no CSV record at byte {offset}: the file changed under the import"
        ) from None
    if offset == 0 and fields:
        fields[0] = fields[0].removeprefix("\ufeff")
    return fields, lines.end - offset
