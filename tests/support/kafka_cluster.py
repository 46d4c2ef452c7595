"""A Kafka cluster of a test's own, run by deploy/stack.sh's cluster functions (the ones
`ASCOLTO_KAFKA_BROKERS=3 make up` runs) in a directory of its own under .run/, on ports nothing
answers on, and stopped when the test ends, whatever happens."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient

from ascolto.config import ROOT, Settings

STACK = ROOT / "deploy" / "stack.sh"
# deploy/stack.sh: node N answers on the first node's port + 10 (N - 1), its controller likewise
NODE_PORT_STEP = 10


@dataclass
class KafkaCluster:
    run_dir: Path
    env: dict[str, str]

    @property
    def bootstrap(self) -> str:
        """Every broker's address, as the stack records it for clients."""
        return (self.run_dir / "kafka-cluster" / "bootstrap").read_text().strip()

    def stack(self, *args: str, check: bool = True) -> None:
        subprocess.run([str(STACK), *args], env=self.env, check=check, timeout=300)

    def log(self, node: int) -> Path:
        return self.run_dir / "logs" / f"kafka-{node}.log"

    def kill(self, node: int) -> None:
        """SIGKILL the node's JVM: no controlled shutdown, no leadership handed over."""
        pid = int((self.run_dir / "pids" / f"kafka-{node}.pid").read_text())
        os.killpg(pid, signal.SIGKILL)

    def admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="test-cluster")

    def leaders(self, topics: Iterable[str]) -> Counter[int]:
        """How many of the topics' partitions each node leads."""
        admin = self.admin()
        try:
            described = admin.describe_topics(sorted(topics))
        finally:
            admin.close()
        return Counter(p["leader_id"] for t in described for p in t["partitions"])


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(nodes: int) -> int:
    """A first node's port P whose cluster ports (P, P + 1, P + 2, then + 10 per node) are free;
    below the kernel's ephemeral range (32768 up), so no client socket takes one meanwhile."""
    for _ in range(100):
        port = random.randrange(20_000, 30_000)
        wanted = [port + NODE_PORT_STEP * n + c for n in range(nodes) for c in (0, 1, 2)]
        if all(_bindable(p) for p in wanted):
            return port
    raise RuntimeError("no free ports for a Kafka cluster between 20000 and 30000")


@contextmanager
def kafka_cluster(logs_to: Path, nodes: int = 3, heap: str = "384m") -> Iterator[KafkaCluster]:
    """Start a cluster of ``nodes`` KRaft nodes; at the end stop it, keep its logs in
    ``logs_to`` and delete the rest."""
    main_run_dir = ROOT / Settings.from_env().run_dir
    run_dir = main_run_dir / f"test-cluster-{uuid.uuid4().hex[:8]}"
    # the jars `stack.sh install` fetched, not a second download
    (run_dir / "kafka").mkdir(parents=True)
    (run_dir / "kafka" / "libs").symlink_to(main_run_dir / "kafka" / "libs")
    port = free_ports(nodes)
    env = {
        **os.environ,
        "ASCOLTO_RUN_DIR": str(run_dir),
        "ASCOLTO_KAFKA_BROKERS": str(nodes),
        "ASCOLTO_KAFKA_PORT": str(port),
        "ASCOLTO_KAFKA_CONTROLLER_PORT": str(port + 1),
        "ASCOLTO_KAFKA_JMX_EXPORTER_PORT": str(port + 2),  # each node's JMX exporter agent
        "ASCOLTO_KAFKA_HEAP": heap,
    }
    env.pop("ASCOLTO_KAFKA_BOOTSTRAP", None)
    cluster = KafkaCluster(run_dir, env)
    try:
        cluster.stack("up", "kafka")
        yield cluster
    finally:
        cluster.stack("down", "kafka", check=False)
        if (run_dir / "logs").is_dir():
            shutil.copytree(run_dir / "logs", logs_to, dirs_exist_ok=True)
        shutil.rmtree(run_dir, ignore_errors=True)
