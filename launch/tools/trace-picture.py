#!/usr/bin/env python3
"""Draws steps FIRST..LAST of a `vae train --trace` file as a PNG, one pair of rows per rank, for the README
(a browser with Perfetto shows the same file interactively; this makes a picture where there is none).
    launch/tools/trace-picture.py TRACE.json OUT.png [FIRST LAST]     default: the last two steps traced in detail
Needs Pillow (`apt-get install python3-pil`)."""
import json
import sys

from PIL import Image, ImageDraw, ImageFont

COLOURS = [("forward", (66, 133, 244)), ("backward", (244, 160, 0)), ("gather", (150, 150, 150)),
           ("wait for", (219, 68, 55)), ("adam", (15, 157, 88)), ("allreduce", (137, 87, 229))]


def colour(name):
    return next((c for key, c in COLOURS if key in name), (120, 120, 120))


def main():
    trace, out = sys.argv[1], sys.argv[2]
    events = [e for e in json.load(open(trace))["traceEvents"] if e.get("ph") == "X"]
    steps = sorted({int(e["name"].split()[1]) for e in events if e["name"].startswith("step ")})
    first, last = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (steps[-2], steps[-1])
    ranks = sorted({e["pid"] for e in events})
    window = [e for e in events if e["name"] in (f"step {first}", f"step {last}")]
    start = min(e["ts"] for e in window)
    end = max(e["ts"] + e["dur"] for e in window)
    width, left, row, gap = 1600, 90, 34, 18
    height = 40 + len(ranks) * (3 * row + gap) + 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    scale = (width - left - 20) / (end - start)

    def x(t):
        return left + (t - start) * scale

    for index, rank in enumerate(ranks):
        top = 30 + index * (3 * row + gap)
        draw.text((8, top + 4), f"rank {rank}", fill="black", font=font)
        draw.text((8, top + row + 10), "compute", fill="black", font=font)
        draw.text((8, top + 2 * row + 10), "allreduce", fill="black", font=font)
        for e in events:
            if e["pid"] != rank or e["ts"] + e["dur"] < start or e["ts"] > end:
                continue
            x0, x1 = max(x(e["ts"]), left), min(x(e["ts"] + e["dur"]), width - 20)
            if e["name"].startswith("step "):
                draw.rectangle([x0, top + 4, x1, top + row - 6], outline="black", fill=(235, 235, 235))
                draw.text((x0 + 4, top + 8), e["name"], fill="black", font=font)
                continue
            y = top + (2 if e["tid"] == 1 else 1) * row
            draw.rectangle([x0, y + 2, max(x1, x0 + 1), y + row - 4], fill=colour(e["name"]), outline="white")
            label = e["name"].replace(" forward", "").replace(" backward", "")
            if x1 - x0 > 7 * len(label):
                draw.text((x0 + 3, y + 10), label, fill="white", font=font)
    axis = height - 50
    draw.line([left, axis, width - 20, axis], fill="black")
    step_ms = 10 ** max(0, len(str(int((end - start) / 1000))) - 1)
    for ms in range(0, int((end - start) / 1000) + 1, step_ms):
        draw.line([x(start + ms * 1000), axis, x(start + ms * 1000), axis + 5], fill="black")
        draw.text((x(start + ms * 1000) - 8, axis + 8), f"{ms} ms", fill="black", font=font)
    legend = left
    for key, c in COLOURS:
        draw.rectangle([legend, height - 22, legend + 14, height - 10], fill=c)
        draw.text((legend + 18, height - 22), key, fill="black", font=font)
        legend += 30 + 8 * len(key)
    image.save(out)


main()
