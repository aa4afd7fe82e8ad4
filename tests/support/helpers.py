from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import paho.mqtt.client as mqtt
import pytest

from clearwatch.config import CameraConfig, Config, parse_config
from clearwatch.config.analytics import DetectConfig

BROKER = ("127.0.0.1", 1883)  # the machine's shared Mosquitto; a unique topic prefix keeps tests apart


@dataclass
class Subscription:
    client: mqtt.Client
    got: list[tuple[str, bytes]] = field(default_factory=list)  # (topic, payload) as they arrive

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def subscribe_all(prefix: str) -> Subscription:
    """Every message under ``prefix/`` from the shared broker, collected as it arrives; skips without one."""
    sub = Subscription(mqtt.Client(mqtt.CallbackAPIVersion.VERSION2))
    sub.client.on_message = lambda c, u, m: sub.got.append((m.topic, m.payload))
    try:
        sub.client.connect(*BROKER)
    except OSError:
        pytest.skip("no MQTT broker on 127.0.0.1:1883")
    sub.client.subscribe(f"{prefix}/#", qos=1)
    sub.client.loop_start()
    return sub


def camera(name: str = "test", fps: float | None = None, **sections: object) -> CameraConfig:
    """A resolved camera for driving analytics directly (its URL is never opened)."""
    if fps is not None:
        sections["detect"] = DetectConfig(fps=fps)
    return CameraConfig.model_validate({"name": name, "url": "rtsp://camera.invalid/stream", **sections})


def make_config(data: Path, cameras: dict[str, str], extra: str = "", camera_extra: str = "") -> Config:
    # the console on a free port: every service a test starts serves it, none collide
    web = "" if "web:" in extra else "web: {port: 0}"
    lines = [f"data_dir: {data}", "storage: {min_free: 0}", web, extra, "cameras:"]
    for name, url in cameras.items():
        lines += [f"  {name}:", f"    url: '{url}'", "    reconnect: {initial_delay: 0.5, max_delay: 2}"]
        if camera_extra:
            lines += [f"    {ln}" for ln in camera_extra.splitlines()]
    return parse_config("\n".join(lines) + "\n")


def decode_all(path: Path) -> tuple[int, float]:
    """Decode every frame (raises on corruption); returns frame count and span in seconds."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n, first, last = 0, None, None
        for f in c.decode(s):
            n += 1
            first = f.time if first is None else first
            last = f.time
    return n, (last - first) if n > 1 and last is not None and first is not None else 0.0


def wait_for(cond: Callable[[], bool], timeout: float, step: float = 0.2) -> float | None:
    """Seconds until cond() held, or None on timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(step)
    return None
