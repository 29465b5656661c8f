# What the four peer benchmarks beside this file share: their flags, their data, the step schedule and
# its clock, and the one JSON line they end with. It imports neither framework, so a peer loads only its own.
import argparse
import gzip
import json
import struct
import time

import numpy as np

FASHION_MNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def flags(doc, faces=False, torch=False, threads=1, port=None):
    """The flags a peer takes; faces picks the faces model's data and defaults, torch adds DDP's flags.
    The defaults are the book's and `vae bench`'s, so a bare run measures docs/performance.md's settings."""
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    if not faces:
        p.add_argument("--data", default=FASHION_MNIST, help="gzipped IDX image file")
        p.add_argument("--limit", type=int, default=20000, help="images to load (0: all)")
    if torch:
        p.add_argument("--ranks", type=int, default=1, help="processes; DDP over gloo when more than 1")
    p.add_argument("--threads", type=int, default=threads, help="math threads per rank")
    p.add_argument("--batch", type=int, default=32, help="per rank")
    if faces:
        p.add_argument("--images", type=int, default=512, help="synthetic images held in memory, cycled")
    p.add_argument("--steps", type=int, default=60 if faces else 200, help="timed steps")
    p.add_argument("--warmup", type=int, default=5 if faces else 20, help="untimed steps before them")
    p.add_argument("--z-dim", type=int, default=200 if faces else 2)
    p.add_argument("--lr", type=float, default=0.0005, help="Adam's learning rate")
    p.add_argument("--r-loss-factor", type=float, default=10000.0 if faces else 1000.0,
                   help="weight of the reconstruction MSE against the KL term")
    if torch:
        p.add_argument("--seed", type=int, default=0, help="torch's seed (weights, sampling noise)")
        p.add_argument("--port", type=int, default=port, help="rendezvous port on 127.0.0.1")
    return p


def idx_images(path, limit):
    """The first `limit` images (all for 0) of a gzipped IDX file, float32 in [0, 1], shape (n, rows, cols)."""
    with gzip.open(path, "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 2051:
            raise SystemExit(f"{path}: not an IDX image file")
        n = min(n, limit) if limit else n
        pixels = np.frombuffer(f.read(n * rows * cols), np.uint8)
    # Converted once up front, so the timed steps read floats as the book's in-memory arrays do.
    return pixels.reshape(n, rows, cols).astype(np.float32) / 255.0


def noise_images(n, shape, seed):
    """n uniform-noise uint8 images from a fixed seed: a step's time does not depend on what they show,
    and bytes keep 512 faces at 25 MB instead of 100."""
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


class Clock:
    """The step schedule: `warmup` untimed steps, then `steps` timed ones, batches cycling through
    `n` images. Iterating yields (timed, batch slice); once the loop is over, `seconds` holds the timed
    steps' time. `sync` (DDP's barrier) lines the ranks up at both ends, so no rank's clock counts
    another's start-up or tail. The loop puts the timed steps' losses in `losses`."""

    def __init__(self, a, n, sync=None):
        self.warmup, self.steps, self.batch, self.n = a.warmup, a.steps, a.batch, n
        self.sync = sync or (lambda: None)
        self.losses, self.seconds = [], None

    def __iter__(self):
        for k in range(self.warmup + self.steps):
            if k == self.warmup:
                self.sync()
                start = time.perf_counter()
            i = (k * self.batch) % (self.n - self.batch)
            yield k >= self.warmup, slice(i, i + self.batch)
        self.sync()
        self.seconds = time.perf_counter() - start


def report(a, peer, framework, version, ranks, clock, **fields):
    """Prints the line a peer ends with (bench-peers.sh keeps the lines that start with '{'). `fields`
    (z_dim, parameters) go between the batch and the steps, where the first peers had them, so the
    lines of old and new runs read alike."""
    line = {"peer": peer, framework: version, "ranks": ranks, "threads_per_rank": a.threads,
            "batch_per_rank": a.batch, **fields, "steps": a.steps,
            "images_per_s": round(ranks * a.batch * a.steps / clock.seconds, 1),
            "mean_loss": round(float(np.mean(clock.losses)), 3)}
    print(json.dumps(line), flush=True)
