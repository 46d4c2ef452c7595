"""Where a profiled process spent its time, from py-spy's collapsed stacks (``--format raw``).

    .venv/bin/python -m bench.run --size 20000 --profile       # into .run/bench/profile
    .venv/bin/python -m bench.profile .run/bench/profile/stage.txt [TOP]

(the run writes stage.txt, e2e_max.txt and e2e_paced.txt, and these summaries beside them
as *-top.txt; ``--profile DIR`` writes them elsewhere).

Prints the functions with the most samples on the stack (inclusive: they or what they call)
and at the top of it (self: their own code), and the share of each of the worker's parts:
the agents and timers by name, and the event loop / Kafka client plumbing around them.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

# Frames that name a part of the worker: the stages its agents and timers call (streams/stages/)
# and the indexer, then the client and framework plumbing around them. A stack belongs to the
# first part one of its frames names, so work an agent causes (encoding, Topic.send ...) counts
# for the agent.
PARTS = (
    ("route agent", re.compile(r"\bRouteStage\.handle\b")),
    ("thread agent", re.compile(r"\bThreadStage\.handle\b")),
    ("SLA due-clock timer", re.compile(r"\bDueClocks\.")),
    ("indexer (streams.indexer)", re.compile(r"\bIndexer\.")),
    ("gauges timer", re.compile(r"\bWorkerGauges\.export\b")),
    ("Kafka producer (aiokafka sender)", re.compile(
        r"(Producer|AIOKafkaProducer|MessageAccumulator|Sender|SendProduceReqHandler)\.")),
    ("Kafka consumer (faust fetcher, aiokafka)", re.compile(
        r"(Fetcher|Consumer|AIOKafkaConsumer|ThreadDelegateConsumer|AIOKafkaConsumerThread"
        r"|ConsumerThread)\.")),
    ("Kafka client I/O", re.compile(r"(AIOKafkaClient|AIOKafkaConnection)\.")),
    ("faust streams and tables", re.compile(r"(Stream|Conductor|Agent|Channel|Topic|Table)\.")),
    ("lingua threads", re.compile(r"lingua|LanguageDetector")),
)  # fmt: skip
IDLE = re.compile(r"^(EpollSelector\.select|select|poll|epoll_wait)\b")


_LINE = re.compile(r":\d+\)$")


def parse(path: Path) -> list[tuple[list[str], int]]:
    """(frames from the root, samples); ``func (file:line)`` frames become ``func (file)``."""
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append(([_LINE.sub(")", f) for f in frames.split(";")], int(count)))
    return stacks


def summarise(stacks: list[tuple[list[str], int]], top: int = 25) -> str:
    total = sum(n for _, n in stacks) or 1
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    parts: Counter[str] = Counter()
    within: dict[str, Counter[str]] = {}
    for frames, n in stacks:
        for frame in set(frames):
            inclusive[frame] += n
        self_time[frames[-1]] += n
        part = _part(frames)
        parts[part] += n
        below = within.setdefault(part, Counter())
        for frame in set(frames[_first_match(frames, part) + 1 :]):
            below[frame] += n

    def rows(counter: Counter[str], k: int = top) -> list[str]:
        return [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in counter.most_common(k)]

    lines = [
        f"{total} samples ({100 * parts['idle (waiting in epoll)'] / total:.1f}% idle)",
        "",
        "by part of the worker (a stack counts for the first part one of its frames names):",
        *rows(parts),
    ]
    for part, _ in parts.most_common(4):
        if part.startswith(("idle", "other")):
            continue
        lines += ["", f"within {part} (inclusive):", *rows(within[part], 12)]
    lines += ["", "inclusive (on the stack):", *rows(inclusive)]
    lines += ["", "self (top of the stack):", *rows(self_time)]
    return "\n".join(lines)


def _part(frames: list[str]) -> str:
    if IDLE.match(frames[-1]):
        return "idle (waiting in epoll)"
    for name, pattern in PARTS:
        if any(pattern.search(f) for f in frames):
            return name
    return "other (event loop, web ...)"


def _first_match(frames: list[str], part: str) -> int:
    patterns = dict(PARTS)
    if part not in patterns:
        return len(frames)
    return next(i for i, f in enumerate(frames) if patterns[part].search(f))


def write_summary(raw: Path, top: int = 40) -> Path | None:
    """``X-top.txt`` beside ``X.txt``; None if py-spy wrote nothing."""
    if not raw.exists():
        return None
    out = raw.with_name(f"{raw.stem}-top.txt")
    out.write_text(summarise(parse(raw), top) + "\n")
    return out


def main(argv: list[str]) -> int:
    top = int(argv[1]) if len(argv) > 1 else 25
    print(summarise(parse(Path(argv[0])), top))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
