"""Which agent message answered which customer message.

Agent messages are taken in event-time order and the first answer sticks. An agent message
with reply references answers the owed messages among its ancestors; one without (chat, web
form, phone, an unreferenced DM or email) answers what its conversation owed so far.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from streams.rules.timeline import Message


def assign(
    order: Sequence[Message],
    timeline: Mapping[str, Message],
    parents: Mapping[str, list[Message]],
    members: Mapping[str, list[Message]],
    conversation_of: Mapping[str, str],
    duplicate_of: Mapping[str, str],
    owed: Collection[str],
) -> dict[str, Message]:
    """Map each answered owed contact_id to the agent message that answered it first.

    `order` is the timeline sorted by (occurred_at, contact_id); `parents` the explicit
    parents (in_reply_to, references) that resolve in the timeline; `members` the messages
    of each conversation, in order.

    Ancestors are followed through customer and agent messages alike, whatever their
    timestamps (clocks skew), and from a near-duplicate on to its original: a reply to a
    repost answers the complaint it repeats.
    """
    answers: dict[str, Message] = {}
    # An agent message has answered every owed ancestor of each message its walk reached,
    # so a later walk can stop there: each message is walked at most once in all.
    walked: set[str] = set()
    pending: dict[str, list[Message]] = {}  # conversation key -> its owed messages, in order
    cursor: dict[str, int] = {}  # conversation key -> how many of those are settled
    for agent in order:
        if agent["direction"] != "outbound" or agent["kind"] != "message":
            continue
        refs = parents.get(agent["contact_id"])
        if refs:
            stack = list(refs)
            while stack:
                node = stack.pop()
                node_id = node["contact_id"]
                if node_id in walked:
                    continue
                walked.add(node_id)
                if node_id in owed:
                    answers.setdefault(node_id, agent)
                up = parents.get(node_id)
                if up:
                    stack.extend(up)
                original = duplicate_of.get(node_id)
                if original is not None:
                    stack.append(timeline[original])
            walked.add(agent["contact_id"])
            continue
        key = conversation_of[agent["contact_id"]]
        waiting = pending.get(key)
        if waiting is None:
            waiting = pending[key] = [m for m in members[key] if m["contact_id"] in owed]
        i, at = cursor.get(key, 0), agent["occurred_at"]
        while i < len(waiting) and waiting[i]["occurred_at"] <= at:
            answers.setdefault(waiting[i]["contact_id"], agent)
            i += 1
        cursor[key] = i
    return answers
