#!/usr/bin/env python3
"""What TensorBoard's own reader finds in a directory of event files, as one JSON object on stdout:
    {"scalars": {tag: [[step, value], ...]}, "images": {tag: [[step, width, height, sha256 of the PNG], ...]}}
Usage (the test virtualenv of launch/install-packages.sh --test):
    ~/.cache/swift-vae/test-venv/bin/python launch/testing/read-tensorboard.py OUT/tensorboard"""
import hashlib
import json
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

# A size guidance of 0 keeps every event; the reader drops what a SessionLog START orphans, as TensorBoard does.
events = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "images": 0})
events.Reload()
tags = events.Tags()
print(json.dumps({
    "scalars": {tag: [[e.step, e.value] for e in events.Scalars(tag)] for tag in tags["scalars"]},
    "images": {tag: [[e.step, e.width, e.height, hashlib.sha256(e.encoded_image_string).hexdigest()] for e in events.Images(tag)]
               for tag in tags["images"]},
}))
