"""Near-duplicate fingerprint of a contact's text.

Customers repost the same complaint on another channel, or again with a link, a mention or
different punctuation. Two texts get the same fingerprint when they read the same once those
surface differences are gone; threading (streams.rules.threading) treats such a repost as a
duplicate of the original instead of a new conversation to answer.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

#: Below this many words of two or more characters there is too little text to judge.
MIN_WORDS = 3

_URL = re.compile(r"(?:https?://|www\.)\S+")
# A mention starts a word: "mail@example.com" is not one (it falls apart into words instead).
_MENTION = re.compile(r"(?<!\w)@\w+")
# Apostrophes join ("don't" == "dont"); every other punctuation mark separates words.
_APOSTROPHES = frozenset("'\u2019\u02bc\u2018`")
# Emoji presentation selectors and keycap marks are combining marks with no text of their own.
_DROP_MARKS = frozenset(chr(c) for c in (*range(0xFE00, 0xFE10), 0x20E3))


def normalise(text: str) -> str:
    """The text as fingerprinted: NFKC, casefolded, words only, single spaces.

    URLs and @mentions are removed; '#' goes with the other punctuation, so a hashtag
    keeps its word. Letters, digits and combining marks (which some scripts need inside
    words) stay; format characters such as zero-width spaces vanish; anything else
    (punctuation, symbols, emoji) separates words.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _MENTION.sub(" ", _URL.sub(" ", text))
    chars: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] in "LN" or (cat[0] == "M" and ch not in _DROP_MARKS):
            chars.append(ch)
        elif cat != "Cf" and ch not in _APOSTROPHES and ch not in _DROP_MARKS:
            chars.append(" ")
    return " ".join("".join(chars).split())


def fingerprint(text: str) -> str | None:
    """A short stable hash of the normalised text, or None when there is too little to judge.

    None (only mentions, a link, a word or two) means "never a near-duplicate": short
    texts like "thanks!" or "hello" are repeated by every customer and prove nothing.
    """
    normal = normalise(text)
    words = normal.split(" ")
    if sum(1 for w in words if len(w) >= 2) < MIN_WORDS:
        return None
    return hashlib.blake2b(normal.encode(), digest_size=8).hexdigest()
