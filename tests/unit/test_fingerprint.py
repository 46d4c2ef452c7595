import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.rules.fingerprint import fingerprint, normalise

COMPLAINT = "My order 4521 has not arrived and nobody answers"


@pytest.mark.parametrize(
    "repost",
    [
        "my order 4521 has not arrived and nobody answers",
        "MY ORDER 4521 HAS NOT ARRIVED AND NOBODY ANSWERS!!!",
        "  My order   4521 has not arrived,\nand nobody answers...  ",
        "@AcmeHelp My order 4521 has not arrived and nobody answers https://t.co/AbC123",
        "My order #4521 has not arrived and nobody answers 😡😡",
        "My order 4521 has not arrived and #nobody answers www.acme.com/orders?id=4521",
        "My ｏｒｄｅｒ 4521 has not arrived and nobody answers",  # fullwidth letters (NFKC)
        "My or\u200bder 4521 has not arrived and nobody answers",  # zero-width space
    ],
)
def test_reposts_of_a_complaint_share_the_fingerprint(repost: str) -> None:
    assert fingerprint(repost) == fingerprint(COMPLAINT)


@pytest.mark.parametrize(
    "other",
    [
        "My order 4522 has not arrived and nobody answers",
        "My parcel has not arrived and nobody answers",
        "My order 4521 has arrived and nobody answers",
    ],
)
def test_different_complaints_differ(other: str) -> None:
    assert fingerprint(other) != fingerprint(COMPLAINT)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "@AcmeHelp @AcmeCEO",
        "https://t.co/AbC123",
        "help!!!",
        "thanks 🙏",
        "hello world",  # two words
        "a b c d e f",  # six one-letter tokens
        "#fail @acme https://acme.com",
    ],
)
def test_too_little_text_to_judge(text: str) -> None:
    assert fingerprint(text) is None


def test_hashtag_keeps_its_word_and_mention_goes() -> None:
    assert normalise("@acme #Refund now, please!") == "refund now please"


def test_apostrophes_join_and_other_punctuation_separates() -> None:
    assert normalise("Don’t charge me twice—again") == "dont charge me twice again"


def test_mail_address_is_not_a_mention() -> None:
    assert normalise("write to help@acme.com") == "write to help acme com"


def test_words_of_other_scripts_keep_their_marks() -> None:
    assert normalise("मेरा ऑर्डर नहीं आया!") == "मेरा ऑर्डर नहीं आया"
    assert fingerprint("मेरा ऑर्डर नहीं आया!") is not None


def test_fingerprint_is_short_and_stable() -> None:
    # Stored in the timeline table and compared across restarts: must not change.
    assert fingerprint(COMPLAINT) == "c1bdc39e9faf58dd"


words = st.lists(
    st.text(alphabet=string.ascii_lowercase + "0123456789", min_size=2, max_size=8),
    min_size=3,
    max_size=12,
)
separators = st.lists(
    st.sampled_from([" ", "  ", "\n", ", ", "! ", "... ", " 🙂 ", " - ", "\t"]),
    min_size=12,
    max_size=12,
)


@given(words, separators, st.booleans(), st.booleans(), st.booleans())
def test_surface_changes_keep_the_fingerprint(
    ws: list[str], seps: list[str], upper: bool, mention: bool, link: bool
) -> None:
    text = "".join(w + s for w, s in zip(ws, seps, strict=False))
    if upper:
        text = text.upper()
    if mention:
        text = "@Acme_Help " + text
    if link:
        text = text + " https://t.co/x1Y2z3"
    assert fingerprint(text) == fingerprint(" ".join(ws))
    assert fingerprint(text) is not None


@given(words, words)
def test_different_words_differ(a: list[str], b: list[str]) -> None:
    if a != b:
        assert fingerprint(" ".join(a)) != fingerprint(" ".join(b))
