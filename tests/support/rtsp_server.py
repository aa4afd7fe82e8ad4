#!/usr/bin/python3
"""A real RTSP server for tests and benchmarks: Debian's GStreamer RTSP server, TCP only, 127.0.0.1.

Run with Debian's /usr/bin/python3 (it needs python3-gi and gir1.2-gst-rtsp-server-1.0):

    /usr/bin/python3 rtsp_server.py --port 8554 --mount cam=/path/clip.mp4 [--mount other=...] [--audio cam=aac]

Each mount serves an H.264 MP4 (or MOV) file without re-encoding, at its native rate, with its audio track
when ``--audio`` names the mount and the track's codec (aac, opus, or pcmu: G.711 µ-law); every client gets its
own pipeline (so each connection is an independent camera). Prints "READY <port>" once listening.
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

AUDIO_PAY = {
    "aac": "aacparse ! rtpmp4gpay name=pay1 pt=97",
    "opus": "opusparse ! rtpopuspay name=pay1 pt=98",
    "pcmu": "rtppcmupay name=pay1",
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mount", action="append", required=True, help="NAME=FILE.mp4")
    ap.add_argument("--audio", action="append", default=[], help="NAME=aac|opus|pcmu")
    args = ap.parse_args()
    audio = dict(spec.split("=", 1) for spec in args.audio)

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for spec in args.mount:
        name, path = spec.split("=", 1)
        factory = GstRtspServer.RTSPMediaFactory()
        video = "h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1"
        if name in audio:
            factory.set_launch(
                f'( filesrc location="{path}" ! qtdemux name=d d.video_0 ! queue ! {video} '
                f"d.audio_0 ! queue ! {AUDIO_PAY[audio[name]]} )"
            )
        else:
            factory.set_launch(f'( filesrc location="{path}" ! qtdemux ! {video} )')
        factory.set_shared(False)
        factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
        mounts.add_factory(f"/{name}", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f"READY {args.port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
