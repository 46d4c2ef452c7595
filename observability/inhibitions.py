"""Which alert silences which while it fires: Alertmanager's inhibit rules, as data.

The rule: a cause inhibits the alerts that follow from it, so on-call is paged once, for the
cause. A source only ever inhibits alerts of its own severity or lower (a page is never
silenced by a ticket), and never a customer-facing alert (SLA, mentions, sentiment: what the
customers live through is reported whatever its cause). docs/alerting.md explains each row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# What the pipeline shows when its store or its log is gone: nothing indexed, the backlog
# growing on every consumer group.
STALLED = ("PipelineStalled", "ConsumerLagGrowing", "KafkaConsumerGroupLag")
INDEXING = ("ElasticsearchIndexingFailing", *STALLED)


@dataclass(frozen=True)
class Inhibition:
    source: str
    targets: tuple[str, ...]
    why: str
    # labels both must share (an alert without the label counts as having it empty)
    equal: tuple[str, ...] = ()

    def render(self) -> dict[str, Any]:
        rule: dict[str, Any] = {
            "source_matchers": [f'alertname="{self.source}"'],
            "target_matchers": [f'alertname=~"{"|".join(self.targets)}"'],
        }
        if self.equal:
            rule["equal"] = list(self.equal)
        return rule


INHIBITIONS = (
    Inhibition(
        "WorkerDown",
        ("PipelineStalled", "ConsumerLagGrowing"),
        "With no worker answering, nothing is processed and the backlog grows.",
    ),
    Inhibition(
        "ElasticsearchDown",
        (
            *INDEXING,
            "ElasticsearchClusterRed",
            "ElasticsearchClusterYellow",
            "ElasticsearchDiskWatermark",
            "ElasticsearchWriteRejections",
            "ElasticsearchJvmHeapHigh",
        ),
        "Nothing can be indexed, and the cluster's own health cannot be read: its other "
        "alerts are stale or follow from the outage.",
    ),
    Inhibition(
        "ElasticsearchClusterRed",
        INDEXING,
        "A primary shard is unassigned: the writes to its index fail.",
    ),
    Inhibition(
        "ElasticsearchClusterRed",
        ("ElasticsearchClusterYellow",),
        "Red is worse than yellow, of the same cluster.",
        equal=("cluster",),
    ),
    Inhibition(
        "KafkaBrokerDown",
        ("KafkaUnderReplicatedPartitions", *STALLED),
        "The broker's replicas are the under-replicated ones; with a single broker, "
        "nothing moves until it is back.",
    ),
    Inhibition(
        "KafkaOfflinePartitions",
        STALLED,
        "A partition with no leader can be neither written nor read: the stages on it stall.",
    ),
)
