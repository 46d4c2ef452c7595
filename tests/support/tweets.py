"""Rows of a Twitter support CSV (the Kaggle archive's columns), written by hand in tests."""

from __future__ import annotations

import csv
import io

from services.importers import twitter

HEADER = list(twitter.COLUMNS)
T0 = "Tue Oct 31 22:10:47 +0000 2017"
T0_MS = 1509487847000


def at(seconds: int) -> str:
    """T0 plus some seconds (same minute-hour arithmetic kept simple: under an hour)."""
    minute, second = divmod(47 + seconds, 60)
    return f"Tue Oct 31 22:{10 + minute:02d}:{second:02d} +0000 2017"


def tweet(tid, author, inbound, when, text, parent="", responses=""):
    return [str(tid), author, "True" if inbound else "False", when, text, responses, str(parent)]


def csv_bytes(rows, header=True) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode()
