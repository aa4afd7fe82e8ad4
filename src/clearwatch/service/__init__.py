"""The running system, made of small named steps: each camera wired into a unit (``units``), a detector per
model setting (``detectors``), the face registry, periodic jobs (``periodic``), the web server, all started
and stopped in order by ``Service`` (``core``)."""

from clearwatch.service.core import Service

__all__ = ["Service"]
