"""Camera sources: RTSP, HTTP(S) and files, one thread per camera, packets fanned out to sinks."""

from typing import TYPE_CHECKING

from clearwatch.lazy import lazy_exports

if TYPE_CHECKING:
    from clearwatch.sources.audio import AudioTrack
    from clearwatch.sources.camera import AudioSink, Camera, PacketSink, describe_error
    from clearwatch.sources.health import CameraHealth, CameraState, HealthSnapshot
    from clearwatch.sources.packets import StreamPacket
    from clearwatch.sources.urls import redact_url, scrub

__getattr__, __dir__ = lazy_exports(__name__, {
    "AudioSink": ".camera",
    "AudioTrack": ".audio",
    "Camera": ".camera",
    "CameraHealth": ".health",
    "CameraState": ".health",
    "describe_error": ".camera",
    "HealthSnapshot": ".health",
    "PacketSink": ".camera",
    "redact_url": ".urls",
    "scrub": ".urls",
    "StreamPacket": ".packets",
})

__all__ = [
    "AudioSink",
    "AudioTrack",
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
