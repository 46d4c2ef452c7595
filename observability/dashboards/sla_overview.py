""" "Ascolto — SLA overview": are customers answered in time, and who is still waiting?

Colours follow the SLA policy per channel (sla_targets.py): green until the warning point,
orange until the target, red past it, dark red past a hard limit (email: 24h).
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.models import dashboard as dm

from observability import selectors as m
from observability.dashboards.panels import (
    BRAND,
    CHANNEL,
    DARK_RED,
    GREEN,
    ORANGE,
    RANGE,
    RATE,
    RED,
    PanelBuilder,
    Steps,
    bargauge_panel,
    build_dashboard,
    datasource_variable,
    override_thresholds,
    piechart_panel,
    quantile,
    query_variable,
    stat_panel,
    target,
    timeseries_panel,
)
from observability.dashboards.sla_targets import ChannelSla, channel_targets, targets_text
from observability.selectors import (
    COMPLIANCE_OBJECTIVE,
    RESPONSE_TARGETS,
    grouped,
    sel,
    share,
    sum_increase,
    sum_rate,
)
from streams.sla.policy import Policy

UID = "ascolto-sla-overview"
TITLE = "Ascolto — SLA overview"

COMPLIANCE_STEPS: Steps = [(None, RED), (0.90, ORANGE), (COMPLIANCE_OBJECTIVE, GREEN)]
UNANSWERED_SHARE_STEPS: Steps = [(None, GREEN), (0.2, ORANGE), (0.4, RED)]

OLDEST = sel(m.OLDEST_UNANSWERED, BRAND, CHANNEL)
OPEN = sel(m.OPEN_CONVERSATIONS, BRAND, CHANNEL)
UNANSWERED = sel(m.UNANSWERED, BRAND, CHANNEL)
AWAITING = sel(m.AWAITING, BRAND, CHANNEL)
PAST_HARD_LIMIT = sel(m.PAST_HARD_LIMIT, BRAND, CHANNEL)
SENTIMENT_COLORS = {"negative": RED, "neutral": "blue", "positive": GREEN}


def age_steps(sla: ChannelSla) -> Steps:
    """Waiting age / response time of one channel: warning, target, hard limit."""
    steps: list[tuple[float | None, str]] = [
        (None, GREEN),
        (sla.warning_s, ORANGE),
        (sla.first_response_s, RED),
    ]
    if sla.hard_limit_s:
        steps.append((sla.hard_limit_s, DARK_RED))
    return steps


def colour_by_channel(
    panel: object, slas: Sequence[ChannelSla], *, per_brand: bool, scale: bool = False
) -> None:
    """Each channel's series gets its own SLA colours; `scale`: bars end at its limit."""
    for sla in slas:
        limit = sla.hard_limit_s or 2 * sla.first_response_s
        if per_brand:  # legend "{{brand}} / {{channel}}"
            matcher, pattern = "byRegexp", f"^.* / {sla.channel}$"
        else:
            matcher, pattern = "byName", sla.channel
        override_thresholds(panel, matcher, pattern, age_steps(sla), limit if scale else None)


def sla_events(event_types: str, *matchers: str) -> str:
    """ascolto_sla_events_total of these event types ("met|breached"), filtered."""
    return m.sla_events(event_types, *matchers, BRAND, CHANNEL)


def compliance(by: str = "") -> str:
    """met / (met + breached) of response targets over the time picker's range."""
    judged = sum_increase(sla_events("met|breached", RESPONSE_TARGETS), RANGE, by)
    met = sum_increase(sla_events("met", RESPONSE_TARGETS), RANGE, by)
    # "or judged * 0": a channel with breaches and no met event yet is at 0 %, not missing
    return share(f"({met} or {judged} * 0)", judged)


def response_quantile(q: float, by: str = "", window: str = RATE) -> str:
    return quantile(q, sel(m.RESPONSE_TIME.bucket, m.FIRST_RESPONSE, BRAND, CHANNEL), by, window)


def unanswered_share(by: str = "") -> str:
    return share(f"sum{grouped(by)}({AWAITING})", f"sum{grouped(by)}({OPEN})")


def headline(slas: Sequence[ChannelSla]) -> list[PanelBuilder]:
    breached = sla_events("breached", RESPONSE_TARGETS)
    oldest = stat_panel(
        "Oldest message waiting for an answer, by channel",
        "Calendar time since the oldest customer message still owed an answer (with business "
        "hours the SLA clock runs slower: see 'Past the hard limit'). Green until the SLA "
        "warning, orange until the first-response target, red past it, dark red past a hard "
        "limit (email: 24h).",
        [target(f"max by (channel) ({OLDEST})", "{{channel}}", instant=True)],
        "s",
        span=8,
    )
    colour_by_channel(oldest, slas, per_brand=False)
    return [
        stat_panel(
            "Response SLA compliance",
            "Answers given within the first/next-response target, over the time range: "
            f"met / (met + breached). Objective {COMPLIANCE_OBJECTIVE:.0%}.",
            [target(compliance(), instant=True)],
            "percentunit",
            span=4,
            steps=COMPLIANCE_STEPS,
            decimals=1,
        ),
        stat_panel(
            "Response SLA breaches",
            "First/next-response targets breached over the time range.",
            [target(sum_increase(breached, RANGE), instant=True)],
            "short",
            span=4,
            steps=[(None, GREEN), (1, ORANGE), (10, RED)],
            decimals=0,
        ),
        stat_panel(
            "Unanswered share",
            "Share of open conversations whose customer is still waiting for an answer "
            "(awaiting / open). The number the business fears most.",
            [target(unanswered_share(), instant=True)],
            "percentunit",
            span=4,
            steps=UNANSWERED_SHARE_STEPS,
            decimals=1,
        ),
        oldest,
        stat_panel(
            "Past the hard limit",
            "Live customer messages still unanswered past their hard limit, as the SLA clock "
            "judges it (business hours and pauses included). Pages on-call "
            "(UnansweredPastHardLimit).",
            [target(f"sum({PAST_HARD_LIMIT})", instant=True)],
            "short",
            span=4,
            steps=[(None, GREEN), (1, DARK_RED)],
            decimals=0,
        ),
    ]


def compliance_bars(title: str, by: str, legend: str, span: int) -> PanelBuilder:
    return bargauge_panel(
        title,
        "met / (met + breached) of response targets over the time range.",
        [target(compliance(by), legend, instant=True)],
        "percentunit",
        span=span,
        steps=COMPLIANCE_STEPS,
        max_val=1,
    )


def events_per_hour(event_type: str, title: str, description: str) -> PanelBuilder:
    """SLA events of one type per hour, stacked bars by channel and target."""
    per_hour = f"3600 * {sum_rate(sla_events(event_type), RATE, 'channel, target')}"
    return timeseries_panel(
        title,
        description,
        [target(per_hour, "{{channel}} · {{target}}")],
        "short",
        bars=True,
        stack=True,
    )


def compliance_row(warning_ratio: float) -> list[PanelBuilder]:
    return [
        compliance_bars("Compliance by channel", "channel", "{{channel}}", 8),
        compliance_bars(
            "Compliance by brand and channel", "brand, channel", "{{brand}} / {{channel}}", 16
        ),
        events_per_hour(
            "breached",
            "SLA breaches per hour",
            "Targets breached, per hour, by channel and target (hard_limit: email's 24h; "
            "resolution: conversation open too long).",
        ),
        events_per_hour(
            "warning",
            "SLA warnings per hour",
            f"Owed answers past the warning point ({warning_ratio:.0%} of the target) and not "
            "answered: the breaches of the next hour, if nobody acts.",
        ),
    ]


def response_row(slas: Sequence[ChannelSla]) -> list[PanelBuilder]:
    by_channel = bargauge_panel(
        "First response p90 by channel, over the range",
        "90% of first answers came within this time; coloured against each channel's target.",
        [target(response_quantile(0.9, "channel", RANGE), "{{channel}}", instant=True)],
        "s",
        span=12,
    )
    colour_by_channel(by_channel, slas, per_brand=False, scale=True)
    return [
        timeseries_panel(
            "First response time p50 / p90 / p99",
            "Event-time response time of first answers (histogram; buckets 30s .. 7d).",
            [
                target(response_quantile(0.5), "p50"),
                target(response_quantile(0.9), "p90"),
                target(response_quantile(0.99), "p99"),
            ],
            "s",
        ),
        by_channel,
        timeseries_panel(
            "First response time p90 by channel",
            f"Compare with the targets: {targets_text(slas)}.",
            [target(response_quantile(0.9, "channel"), "{{channel}}")],
            "s",
            span=24,
        ),
    ]


def stacked_by_channel(title: str, description: str, gauge: str) -> PanelBuilder:
    """A gauge summed per channel, stacked: each channel's part of the whole."""
    by_channel = target(f"sum by (channel) ({gauge})", "{{channel}}")
    return timeseries_panel(title, description, [by_channel], "short", span=8, stack=True)


def backlog_row(slas: Sequence[ChannelSla]) -> list[PanelBuilder]:
    oldest = bargauge_panel(
        "Oldest waiting, by brand and channel",
        "Age of the oldest message still owed an answer, coloured against its channel's SLA.",
        [
            target(
                f"max by (brand, channel) ({OLDEST})",
                "{{brand}} / {{channel}}",
                instant=True,
            )
        ],
        "s",
        span=12,
        height=10,
    )
    colour_by_channel(oldest, slas, per_brand=True, scale=True)
    return [
        timeseries_panel(
            "Unanswered share by channel",
            "Share of open conversations waiting for an answer.",
            [target(unanswered_share("channel"), "{{channel}}")],
            "percentunit",
            span=8,
            steps=UNANSWERED_SHARE_STEPS,
        ),
        stacked_by_channel(
            "Open conversations by channel", "Conversations neither closed nor resolved.", OPEN
        ),
        stacked_by_channel(
            "Unanswered messages by channel",
            "Customer messages owed an answer and not answered yet.",
            UNANSWERED,
        ),
        timeseries_panel(
            "Oldest waiting by channel",
            "Age of the oldest message still owed an answer (SLA clock).",
            [target(f"max by (channel) ({OLDEST})", "{{channel}}")],
            "s",
            height=10,
        ),
        oldest,
    ]


def inbound_row() -> list[PanelBuilder]:
    inbound = sel(m.INBOUND, BRAND, CHANNEL)
    negative = sel(m.INBOUND, m.NEGATIVE, BRAND, CHANNEL)
    return [
        piechart_panel(
            "Sentiment mix, over the range",
            "Inbound customer messages by sentiment.",
            [target(sum_increase(inbound, RANGE, "sentiment"), "{{sentiment}}", instant=True)],
            "short",
            colors=SENTIMENT_COLORS,
        ),
        timeseries_panel(
            "Inbound messages by sentiment",
            "Customer messages per minute.",
            [target(f"60 * {sum_rate(inbound, RATE, 'sentiment')}", "{{sentiment}}")],
            "cpm",
            span=8,
            stack=True,
        ),
        timeseries_panel(
            "Negative share by brand",
            "Share of a brand's inbound messages read as negative (alert: NegativeSentimentSurge).",
            [
                target(
                    share(sum_rate(negative, RATE, "brand"), sum_rate(inbound, RATE, "brand")),
                    "{{brand}}",
                )
            ],
            "percentunit",
            span=8,
            max_val=1,
        ),
        timeseries_panel(
            "Mentions by brand vs their usual level",
            "Inbound per minute over 10 minutes, and the mean of the same 10 minutes on the "
            "previous days (recording rules; the channel filter does not apply). "
            "MentionSpike fires at 3x the usual level.",
            [
                target(f"60 * {sel(m.BRAND_INBOUND_RATE10M, BRAND)}", "{{brand}} now"),
                target(
                    f"60 * {sel(m.BRAND_INBOUND_BASELINE, BRAND)}",
                    "{{brand}} usual",
                ),
            ],
            "cpm",
        ),
        timeseries_panel(
            "Inbound messages by priority",
            "Customer messages per minute, by the priority the pipeline assigned.",
            [target(f"60 * {sum_rate(inbound, RATE, 'priority')}", "{{priority}}")],
            "cpm",
            stack=True,
        ),
    ]


def dashboard(policy: Policy) -> dm.Dashboard:
    slas = channel_targets(policy)
    return build_dashboard(
        uid=UID,
        title=TITLE,
        description="Are customers answered within their SLA, and who is still waiting?",
        time_from="now-24h",
        variables=[
            datasource_variable(),
            query_variable("brand", "Brand", f"label_values({m.INBOUND}, brand)"),
            query_variable("channel", "Channel", f"label_values({sel(m.INBOUND, BRAND)}, channel)"),
        ],
        rows=[
            ("Right now", headline(slas)),
            ("SLA compliance", compliance_row(policy.warning_ratio)),
            ("Response times", response_row(slas)),
            ("Backlog", backlog_row(slas)),
            ("Inbound and sentiment", inbound_row()),
        ],
    )
