"""Production counters: things crossing a line — tracked objects, or moving blobs for items no detector knows."""

from __future__ import annotations

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from clearwatch.analytics.motion import Motion
from clearwatch.analytics.tracking import Track
from clearwatch.analytics.zones import ANCHOR, _as_sv, _pixels
from clearwatch.config.analytics import CounterConfig

CENTRE = sv.Position.CENTER


class LineCounter:
    def __init__(self, name: str, cfg: CounterConfig, frame_size: tuple[int, int], labels: tuple[str, ...]):
        self.name = name
        self.cfg = cfg
        self.labels = labels
        a, b = _pixels(cfg.points, frame_size).tolist()
        # blobs have no feet: count them by their centre
        anchor = CENTRE if cfg.source == "motion" else ANCHOR
        self.line = sv.LineZone(sv.Point(*a), sv.Point(*b), triggering_anchors=(anchor,),
                                minimum_crossing_threshold=1)
        self.min_area = cfg.min_area * frame_size[0] * frame_size[1]
        self.blobs = ByteTrackTracker(lost_track_buffer=15, track_activation_threshold=0.5,
                                      high_conf_det_threshold=0.5, minimum_consecutive_frames=1,
                                      minimum_iou_threshold=0.05) if cfg.source == "motion" else None
        self.count_in = 0
        self.count_out = 0

    def update(self, seen: list[Track], motion: Motion | None, t: float) -> tuple[int, int]:
        if self.blobs is not None:
            boxes = motion.boxes if motion is not None else np.zeros((0, 4), np.float32)
            if len(boxes):
                area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
                boxes = boxes[area >= self.min_area]
            dets = self.blobs.update(sv.Detections(xyxy=boxes.reshape(-1, 4),
                                                   confidence=np.ones(len(boxes), np.float32)), timestamp=t)
        else:
            tracks = [tr for tr in seen if not self.cfg.objects or tr.label in self.cfg.objects]
            if not tracks:
                return 0, 0
            dets = _as_sv(tracks, self.labels)
        if len(dets) == 0:
            return 0, 0
        crossed_in, crossed_out = self.line.trigger(dets)
        n_in, n_out = int(np.count_nonzero(crossed_in)), int(np.count_nonzero(crossed_out))
        self.count_in += n_in
        self.count_out += n_out
        return n_in, n_out
