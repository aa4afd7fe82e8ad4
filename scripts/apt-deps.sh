#!/bin/sh
# Install the Debian packages the tests need (GStreamer RTSP server, Chromium) when they are missing.
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing Debian packages:$missing"
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "warning: not root and no sudo; cannot install$missing (RTSP tests will be skipped)" >&2; exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null \
    || { echo "warning: apt-get failed; RTSP tests will be skipped" >&2; exit 0; }
