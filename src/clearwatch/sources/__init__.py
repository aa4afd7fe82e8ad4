"""Camera sources: RTSP, HTTP(S) and files, one thread per camera, packets fanned out to sinks."""

from clearwatch.sources.camera import Camera, PacketSink, describe_error
from clearwatch.sources.health import CameraHealth, CameraState, HealthSnapshot
from clearwatch.sources.packets import StreamPacket
from clearwatch.sources.urls import redact_url, scrub

__all__ = [
    "Camera",
    "CameraHealth",
    "CameraState",
    "HealthSnapshot",
    "PacketSink",
    "StreamPacket",
    "describe_error",
    "redact_url",
    "scrub",
]
