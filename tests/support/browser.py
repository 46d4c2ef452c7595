"""A page opened in headless Chromium (Debian's package, `deploy/stack.sh browser`), driven over
the DevTools protocol with aiohttp's websocket client: what the page logged as errors, what it
tried to load from the network, a full-page screenshot, and a value computed in the page.

    python -m tests.support.browser PAGE.html OUT.png [WIDTH]
takes a full-page screenshot of a local page, in 256 colours to keep it small (how
docs/report.png was made).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
# The flags that work on this machine's closed network (no first-run, no background calls).
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--force-device-scale-factor=1", "--remote-debugging-port=0",
)  # fmt: skip
# Schemes that do not leave the machine: the page itself and its inline images.
LOCAL_SCHEMES = ("file:", "data:")


@dataclass
class PageVisit:
    errors: list[str]  # console errors, uncaught exceptions, browser log errors (CSP too)
    requests: list[str]  # every URL the page asked for that is not file: or data:
    screenshot: bytes  # PNG of the whole page
    value: Any  # what the expression evaluated to (JSON-like)


class Chromium:
    """The browser process, in a session of its own so that it is ended with its children."""

    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Chromium:
        if not Path(CHROMIUM).exists():
            raise RuntimeError(f"{CHROMIUM} not found: install it with `deploy/stack.sh browser`")
        self.profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=(self.profile / "chromium.log").open("ab"),
            start_new_session=True,
        )  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def devtools_port(self, timeout_s: float = 30) -> int:
        """The port Chromium chose (--remote-debugging-port=0), from its DevToolsActivePort."""
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited ({self.proc.returncode}): {self.profile}")
            lines = active.read_text().splitlines() if active.exists() else []
            if lines and lines[0].isdigit():
                return int(lines[0])
            time.sleep(0.1)
        raise TimeoutError(f"chromium did not open its DevTools port in {timeout_s}s")


@dataclass
class DevTools:
    """One DevTools session on a page: numbered calls, their answers, and the events seen."""

    ws: aiohttp.ClientWebSocketResponse
    events: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    next_id: int = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        answer = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = answer
        await self.ws.send_str(json.dumps({"id": self.next_id, "method": method, "params": params}))
        reply = await asyncio.wait_for(answer, 60)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    async def read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data:
                self.pending.pop(data["id"]).set_result(data)
            else:
                self.events.append(data)
                self.arrived.set()

    async def wait_for(self, method: str, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(e["method"] == method for e in self.events):
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), max(deadline - time.monotonic(), 0.01))

    def errors(self) -> list[str]:
        found = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                found.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif e["method"] == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                found.append(f"console.{p['type']}: {[a.get('value') for a in p['args']]}")
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                found.append(f"log: {p['entry']['text']}")
        return found

    def requests(self) -> list[str]:
        urls = [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        ]
        return [u for u in urls if not u.startswith(LOCAL_SCHEMES)]


async def _visit(port: int, url: str, expression: str, width: int) -> PageVisit:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/json/list") as resp:
            targets = await resp.json()
        page = next(t for t in targets if t["type"] == "page")
        async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            tools = DevTools(ws)
            reader = asyncio.create_task(tools.read())
            try:
                for domain in ("Runtime", "Log", "Network", "Page"):
                    await tools.call(f"{domain}.enable")
                viewport = {"width": width, "deviceScaleFactor": 1, "mobile": False}
                await tools.call("Emulation.setDeviceMetricsOverride", height=900, **viewport)
                await tools.call("Page.navigate", url=url)
                await tools.wait_for("Page.loadEventFired")
                value = await tools.call("Runtime.evaluate", expression=expression,
                                         returnByValue=True, awaitPromise=True)  # fmt: skip
                size = (await tools.call("Page.getLayoutMetrics"))["cssContentSize"]
                height = int(size["height"])
                await tools.call("Emulation.setDeviceMetricsOverride", height=height, **viewport)
                shot = await tools.call("Page.captureScreenshot", format="png")
            finally:
                reader.cancel()
            return PageVisit(
                errors=tools.errors(),
                requests=tools.requests(),
                screenshot=base64.b64decode(shot["data"]),
                value=value["result"].get("value"),
            )


def visit(page: Path, expression: str = "null", width: int = 1280) -> PageVisit:
    """Open a local page in a fresh headless Chromium, which is always ended afterwards."""
    profile = Path(tempfile.mkdtemp(prefix="ascolto-chromium-"))
    try:
        with Chromium(profile) as browser:
            port = browser.devtools_port()
            return asyncio.run(_visit(port, page.resolve().as_uri(), expression, width))
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__)
        return 2
    seen = visit(Path(argv[0]), width=int(argv[2]) if len(argv) == 3 else 1280)
    shot = Image.open(io.BytesIO(seen.screenshot)).convert("RGB")
    shot.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        argv[1], optimize=True
    )
    for problem in seen.errors + [f"request: {u}" for u in seen.requests]:
        print(problem)
    return 1 if seen.errors or seen.requests else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
