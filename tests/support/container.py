"""Ascolto's processes run from the image (`make image`, deploy/image/) with podman, for the
integration tests: the same handles as tests.support.stack's local processes, so a pipeline
of containers is tested like any other.

Containers run as the image's user on the host's network, with a read-only root file system
and a tmpfs for the worker's state, as an orchestrator would run them.
"""

from __future__ import annotations

import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ascolto.config import ROOT
from tests.support.stack import Proc

IMAGE = "localhost/ascolto:latest"
BUILD = ROOT / "deploy" / "image" / "build.sh"
STATE_DIR = "/var/lib/ascolto"  # the image's ASCOLTO_RUN_DIR, a tmpfs here
IMAGE_UID = 10001
# Paths of the test machine, meaningless inside a container: the image's own apply. The
# client's key file is the test's: ingest in a container needs none.
HOST_PATHS = {
    "ASCOLTO_ROOT",
    "ASCOLTO_RUN_DIR",
    "ASCOLTO_WORKER_DATA_DIR",
    "ASCOLTO_INGEST_KEY_FILE",
}
# Files of the test machine a container reads: the directory holding each is bind-mounted
# read-only there, and the setting names the file inside. The directory, not the file, as the
# chart mounts a Secret: a store `ascolto keys` replaces whole is seen by the running ingest.
MOUNTED = {"ASCOLTO_INGEST_KEYS_FILE": "/etc/ascolto/ingest-keys"}


def podman_flags() -> list[str]:
    """deploy/image/podman.flags: what podman needs on this machine, for build and run."""
    lines = (ROOT / "deploy" / "image" / "podman.flags").read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def build_image(log: Path) -> str:
    """Builds the image from the checkout as it is (seconds when nothing changed, since
    every layer is cached), so the tests never run an image older than the code."""
    with log.open("ab") as out:
        done = subprocess.run([str(BUILD)], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"`make image` failed ({done.returncode}):\n{tail}")
    return IMAGE


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check)


def run_once(
    *args: str,
    env: dict[str, str] | None = None,
    entrypoint: str | None = None,
    writable: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``podman run --rm IMAGE ARGS``: a one-off command (the CLI), its output captured;
    ``writable``: the MOUNTED directories too (`ascolto keys` edits the store)."""
    env = env or {}
    cmd = ["podman", "run", "--rm", *podman_flags(), "--read-only", *env_flags(env)]
    cmd += mount_flags(env, writable)
    cmd += ["--entrypoint", entrypoint] if entrypoint else []
    return subprocess.run([*cmd, IMAGE, *args], capture_output=True, text=True, env=env)


def env_flags(env: dict[str, str]) -> list[str]:
    """``--env NAME`` for the pipeline's ASCOLTO_* settings: podman takes each value from its
    own environment, so none appears on a command line (credentials, one day)."""
    names = sorted(
        n for n in env if n.startswith("ASCOLTO_") and n not in HOST_PATHS and n not in MOUNTED
    )
    return [flag for name in names for flag in ("--env", name)]


def mount_flags(env: dict[str, str], writable: bool = False) -> list[str]:
    """``--volume`` and ``--env`` for each MOUNTED setting ``env`` names; U: the files are
    the image user's, as a Secret volume's are the pod's fsGroup's."""
    flags = []
    for name, target in MOUNTED.items():
        if name in env:
            host = Path(env[name])
            mode = "rw" if writable else "ro"
            flags += ["--volume", f"{host.parent}:{target}:{mode},U"]
            flags += ["--env", f"{name}={target}/{host.name}"]
    return flags


@dataclass
class ContainerProc(Proc):
    """One Ascolto process in a container of its own, in the foreground of ``podman run``
    (its output is the log), removed when stopped."""

    container: str = field(default_factory=lambda: f"ascolto-test-{uuid.uuid4().hex[:10]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> None:
        if sig == signal.SIGTERM:  # as an orchestrator stops a pod: through the runtime
            podman("stop", "--time", str(int(timeout)), self.container, check=False)
        else:
            podman("kill", "--signal", str(sig), self.container, check=False)
        super().stop(sig, timeout)
        podman("rm", "--force", "--ignore", self.container, check=False)

    def exec(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A command run inside the running container, as the image's user."""
        return podman("exec", self.container, *args, check=check)


def container_proc(name: str, command: str, env: dict[str, str], tmp: Path) -> ContainerProc:
    """A launcher for tests.support.stack.make_pipeline: ``command`` run from the image."""
    container = f"ascolto-test-{name}-{uuid.uuid4().hex[:8]}"
    args = [
        "podman", "run", "--rm", "--name", container, *podman_flags(),
        "--read-only", "--tmpfs", f"{STATE_DIR}:rw,U",  # U: owned by the image user
        *env_flags(env), *mount_flags(env), IMAGE, command,
    ]  # fmt: skip
    return ContainerProc(name, args, env, tmp / f"{name}.log", container=container)
