"""The worker's event-time watermark: the replay clock of every non-live customer."""

from __future__ import annotations

from streams.sla.watermark import Watermark

H = 3_600_000
T0 = 1_790_000_000_000


def contact(occurred_at: int, received_at: int) -> dict[str, int]:
    return {"occurred_at": occurred_at, "received_at": received_at}


def test_follows_the_latest_event_time_less_the_lateness_and_never_goes_back() -> None:
    watermark = Watermark(lateness_ms=600_000)
    watermark.observe(contact(T0, T0 + 5 * H))  # an archive's contact, received later
    assert watermark.now() == T0 - 600_000
    watermark.observe(contact(T0 - H, T0 + 5 * H))  # an older one
    assert watermark.now() == T0 - 600_000


def test_a_contact_stamped_ahead_of_ingest_moves_it_only_to_when_ingest_took_it() -> None:
    watermark = Watermark(lateness_ms=0)
    watermark.observe(contact(T0 + 20 * H, T0))  # a sender's clock 20 hours fast
    assert watermark.now() == T0
