"""Email importer: mbox files and .eml folders -> ingest contact dicts."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path

import pytest

from ascolto.validation import MAX_BODY_CHARS, MAX_SUBJECT_CHARS, validate
from services.importers import email as mail
from services.importers import twitter
from services.importers.common import Progress, Refused
from tests.support.tweets import T0, T0_MS, csv_bytes, tweet

AGENTS = {"support@acme.com": "acme", "@acme.com": "acme", "help@globex.com": "globex"}
DATE = "Tue, 31 Oct 2017 23:10:47 +0100"


def message(
    sender="Mario Rossi <Mario.Rossi@Example.NET>",
    to="Acme Support <support@acme.com>",
    *,
    cc=None,
    message_id="<m1@example.net>",
    date=DATE,
    subject="Order 1234",
    body="My order 1234 never arrived.",
    html=None,
    headers=(),
) -> EmailMessage:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    if cc:
        m["Cc"] = cc
    if message_id:
        m["Message-ID"] = message_id
    if date:
        m["Date"] = date
    m["Subject"] = subject
    for name, value in headers:
        m[name] = value
    if body is not None:
        m.set_content(body)
        if html:
            m.add_alternative(html, subtype="html")
    elif html:
        m.set_content(html, subtype="html")
    return m


def parse(m: EmailMessage | bytes, agents=AGENTS) -> dict:
    raw = m if isinstance(m, bytes) else m.as_bytes()
    return mail.parse_message(raw, mail.AgentDirectory(agents))


def with_raw_header(m: EmailMessage, name: str, value: bytes) -> bytes:
    """The message's bytes with a header written as-is (EmailMessage would refold or drop
    values such as an invalid date)."""
    del m[name]
    return name.encode() + b": " + value + b"\n" + m.as_bytes()


def test_inbound_email_contact():
    c = parse(message())
    assert c == {
        "source": "email",
        "source_id": "m1@example.net",
        "channel": "email",
        "direction": "inbound",
        "kind": "message",
        "brand": "acme",
        "customer_handle": "mario.rossi@example.net",
        "customer_email": "mario.rossi@example.net",
        "conversation_ref": None,
        "in_reply_to": None,
        "references": [],
        "occurred_at": T0_MS,
        "subject": "Order 1234",
        "body": "My order 1234 never arrived.",
        "language": None,
        "attributes": {},
    }


def test_threading_headers_lose_their_brackets_and_keep_their_order():
    m = message(headers=[("In-Reply-To", "<r2@acme.com> (Jane's message)")])
    c = parse(with_raw_header(m, "References", b"<root@example.net>\n <r1@acme.com> <r2@acme.com>"))
    assert c["in_reply_to"] == "r2@acme.com"
    assert c["references"] == ["root@example.net", "r1@acme.com", "r2@acme.com"]


def test_outbound_by_address_and_by_domain():
    by_address = parse(message("Support <SUPPORT@acme.com>", "Mario <Mario.Rossi@Example.NET>"))
    assert by_address["direction"] == "outbound" and by_address["brand"] == "acme"
    assert by_address["customer_email"] == "mario.rossi@example.net"
    assert by_address["attributes"]["agent_address"] == "support@acme.com"

    by_domain = parse(
        message("jane@ACME.com", "tom@acme.com, Ann <ann@example.org>, bob@example.org")
    )
    assert by_domain["direction"] == "outbound" and by_domain["brand"] == "acme"
    assert by_domain["customer_handle"] == "ann@example.org"  # first To that is no agent

    subdomain = parse(message("jane@mail.acme.com", "ann@example.org"))
    assert subdomain["direction"] == "inbound" and subdomain["brand"] == "unknown"


def test_inbound_brand_from_the_first_agent_among_to_and_cc():
    c = parse(message(to="friend@example.org", cc="help@globex.com, support@acme.com"))
    assert c["brand"] == "globex"
    c = parse(message(to="nobody@example.org"))
    assert c["brand"] == "unknown" and c["direction"] == "inbound"


def test_outbound_without_a_customer_addressee():
    c = parse(message("support@acme.com", "tom@acme.com", cc="Ann <Ann@Example.org>"))
    assert c["customer_handle"] == "ann@example.org"
    c = parse(message("support@acme.com", "tom@acme.com"))
    assert c["customer_handle"] == "unknown" and c["customer_email"] is None


def test_html_only_body_is_stripped_to_text():
    html = (
        "<html><head><style>p {color: red}</style></head><body>"
        "<p>My order&nbsp;<b>1234</b> &amp; more</p><script>alert(1)</script>"
        "<div>never   arrived</div></body></html>"
    )
    c = parse(message(body=None, html=html))
    assert c["body"] == "My order 1234 & more\nnever arrived"


def test_plain_part_is_preferred_over_html():
    c = parse(message(body="plain words here", html="<p>html words</p>"))
    assert c["body"] == "plain words here"


def test_a_blank_plain_part_gives_way_to_the_html_one():
    c = parse(message(body="   \n", html="<p>my router is broken</p>"))
    assert c["body"] == "my router is broken"


def test_attachments_are_named_and_an_email_of_attachments_only_says_what_it_carried():
    only = message(body=None)
    only.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="inv 7.pdf")
    only.add_attachment(b"\x89PNG", maintype="image", subtype="png")  # no file name
    c = parse(only)
    assert c["body"] == ""
    assert c["attributes"][mail.ATTACHMENTS_ATTRIBUTE] == "inv 7.pdf, image/png"
    with_text = message(body="photo of the broken box attached")
    with_text.add_attachment(b"\xff\xd8", maintype="image", subtype="jpeg", filename="box.jpg")
    c = parse(with_text)
    assert c["body"] == "photo of the broken box attached"
    assert c["attributes"][mail.ATTACHMENTS_ATTRIBUTE] == "box.jpg"
    assert mail.ATTACHMENTS_ATTRIBUTE not in parse(message())["attributes"]


@pytest.mark.parametrize("content_type", ["multipart/mixed", "multipart/mixed; boundary=XYZ"])
def test_a_multipart_without_findable_parts_keeps_its_text(content_type):
    raw = (
        f"From: Mario Rossi <mario@example.net>\r\nTo: support@acme.com\r\n"
        f"Message-ID: <m9@example.net>\r\nDate: Mon, 21 Sep 2026 12:00:00 +0000\r\n"
        f"Content-Type: {content_type}\r\n\r\nmy router is broken\r\n"
    ).encode()
    assert parse(raw)["body"] == "my router is broken"


def test_missing_message_id_gets_a_stable_derived_id():
    a = parse(message(message_id=None))
    b = parse(message(message_id=None))
    other = parse(message(message_id=None, body="A different complaint."))
    assert a["source_id"] == b["source_id"] != other["source_id"]
    assert a["source_id"].endswith("@derived.ascolto")
    assert a["attributes"] == {mail.DERIVED_ID_ATTRIBUTE: "true"}


@pytest.mark.parametrize(
    ("date", "reason"),
    [(None, "missing Date header"), ("the day after tomorrow", "unparsable Date")],
)
def test_missing_or_bad_date_is_refused(tmp_path: Path, date, reason):
    path = tmp_path / "box.mbox"
    box = mailbox.mbox(str(path))
    box.add(message(message_id="<a@x>"))
    bad = message(message_id="<b@x>", date=None)
    box.add(with_raw_header(bad, "Date", date.encode()) if date else bad)
    box.add(message(message_id="<c@x>"))
    box.close()
    items = list(mail.read_mbox(path, AGENTS))
    assert [i["source_id"] for i in items if not isinstance(i, Refused)] == ["a@x", "c@x"]
    [refused] = [i for i in items if isinstance(i, Refused)]
    assert refused.row == 2 and refused.ref == "b@x" and refused.reason.startswith(reason)


def test_eml_folder_is_read_recursively_in_name_order(tmp_path: Path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.eml").write_bytes(message(message_id="<two@x>").as_bytes())
    (tmp_path / "a.EML").write_bytes(message(message_id="<one@x>").as_bytes())
    (tmp_path / "c.eml").write_bytes(with_raw_header(message(message_id="<3@x>"), "Date", b"nope"))
    (tmp_path / "d.eml").write_bytes(message(message_id="<one@x>").as_bytes())
    (tmp_path / "notes.txt").write_text("not mail")
    seen: list[Progress] = []
    items = list(mail.read_mail(tmp_path, AGENTS, on_progress=seen.append))
    assert [i["source_id"] for i in items if not isinstance(i, Refused)] == ["one@x", "two@x"]
    refused = [i for i in items if isinstance(i, Refused)]
    assert [(r.row, r.ref) for r in refused] == [(3, "c.eml"), (4, "d.eml")]
    assert refused[1].reason == "repeat of Message-ID one@x first seen at file a.EML"
    assert seen[-1].rows_done == 4 and seen[-1].fraction == 1.0


def test_agent_directory_rejects_keys_that_are_neither_address_nor_domain():
    with pytest.raises(ValueError):
        mail.AgentDirectory({"acme.com": "acme"})


@pytest.mark.parametrize("bad_id", ["<>", "<@>", "< >", "<@b>", "<[]@x>", "<a@[>"])
def test_an_unparsable_message_id_falls_back_to_the_derived_id(tmp_path: Path, bad_id):
    path = tmp_path / "box.mbox"
    box = mailbox.mbox(str(path))
    box.add(message(message_id="<a@x>"))
    box.add(with_raw_header(message(message_id=None), "Message-ID", bad_id.encode()))
    box.add(message(message_id="<c@x>", body="Another complaint."))
    box.close()
    items = list(mail.read_mbox(path, AGENTS))
    assert not any(isinstance(i, Refused) for i in items)
    assert [i["source_id"] for i in items] == [
        "a@x",
        parse(message(message_id=None))["source_id"],
        "c@x",
    ]
    assert items[1]["attributes"] == {mail.DERIVED_ID_ATTRIBUTE: "true"}


def test_a_refused_message_with_an_unparsable_message_id_is_reported(tmp_path: Path):
    path = tmp_path / "box.mbox"
    box = mailbox.mbox(str(path))
    box.add(with_raw_header(message(message_id=None, date=None), "Message-ID", b"<>"))
    box.add(message(message_id="<b@x>"))
    box.close()
    items = list(mail.read_mbox(path, AGENTS))
    assert items[0] == Refused(1, "missing Date header", None)
    assert items[1]["source_id"] == "b@x"


def test_readers_tell_the_row_of_each_contact(tmp_path: Path):
    path = tmp_path / "box.mbox"
    box = mailbox.mbox(str(path))
    for i in range(3):
        box.add(message(message_id=f"<{i}@x>"))
    box.close()
    mbox_rows = mail.read_mbox(path, AGENTS)
    assert [(mbox_rows.row, item["source_id"]) for item in mbox_rows] == [
        (1, "0@x"), (2, "1@x"), (3, "2@x")
    ]  # fmt: skip
    tweets = twitter.read_archive_bytes(
        csv_bytes([tweet(1, "115712", True, T0, "hi"), tweet(2, "9", True, T0, "yo")])
    )
    assert [(tweets.row, item["source_id"]) for item in tweets] == [(2, "1"), (3, "2")]


def test_long_subject_and_body_are_cut_to_ingests_limits_and_marked():
    c = parse(message(subject="Re: " * 600 + "refund", body="help\n" + "> quoted\n" * 20_000))
    validate(dict(c), received_at=T0_MS)  # ingest takes it
    assert len(c["subject"]) == MAX_SUBJECT_CHARS and c["subject"].startswith("Re: Re: ")
    assert len(c["body"]) == MAX_BODY_CHARS and c["body"].startswith("help\n> quoted")
    assert c["attributes"][mail.TRUNCATED_ATTRIBUTE] == "subject,body"
    assert mail.TRUNCATED_ATTRIBUTE not in parse(message())["attributes"]
