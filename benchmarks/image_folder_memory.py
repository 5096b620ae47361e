"""Peak memory of training from an image folder against the size of its decoded images.

Generates a folder of PNG images (a coloured square, disc or triangle on a noisy
background; labels: the shape and the colour) plus ``labels.csv``, then trains one epoch
through ``data.dataset: images`` in a fresh subprocess and reads that process's peak
resident memory (``getrusage(RUSAGE_SELF).ru_maxrss``); the same on the first tenth of the
folder shows how peak memory grows with the number of images. A third subprocess imports
the same modules and prepares the same data without training: the floor any run pays
(Python, torch, pandas, scikit-learn). Held in memory as the trainer's float32 tensors,
the images would need at least the floor plus their decoded size.

    python benchmarks/image_folder_memory.py             # 20,000 images, 96×96 RGB
    python benchmarks/image_folder_memory.py --quick     # 2,000 images, 64×64
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
SHAPES = ("square", "disc", "triangle")
COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220)}

CHILD = """
import json, resource, sys, time
from mtl.config import ExperimentConfig
from mtl.data.prepare import prepare
config = ExperimentConfig.from_dict(json.loads(sys.argv[1]))
train = sys.argv[2] == "train"
start = time.perf_counter()
if train:
    from mtl.train.trainer import Trainer
    result = Trainer(config).fit()
    out = {"status": result.status, "steps": result.summary["steps"],
           "accuracy": {t: v["accuracy"] for t, v in result.summary["test"].items()},
           "decoded_bytes": sum(result.data.split(s).x.nbytes for s in ("train", "val", "test"))}
else:
    import torch  # the same imports as a training run
    import mtl.train.trainer  # noqa: F401
    data = prepare(config)
    out = {"rows": len(data.train) + len(data.val) + len(data.test)}
out["seconds"] = round(time.perf_counter() - start, 1)
out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
print(json.dumps(out))
"""


def generate(folder: Path, count: int, size: int, seed: int = 0) -> None:
    """``count`` PNG images of ``size × size`` pixels and their labels.csv in ``folder``."""
    rng = np.random.default_rng(seed)
    (folder / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        shape = SHAPES[int(rng.integers(3))]
        colour = list(COLOURS)[int(rng.integers(3))]
        noise = rng.integers(0, 60, size=(size, size, 3), dtype=np.uint8)
        image = Image.fromarray(noise, mode="RGB")
        draw = ImageDraw.Draw(image)
        r = int(rng.integers(size // 6, size // 3))
        cx, cy = (int(v) for v in rng.integers(r, size - r, size=2))
        box = (cx - r, cy - r, cx + r, cy + r)
        if shape == "square":
            draw.rectangle(box, fill=COLOURS[colour])
        elif shape == "disc":
            draw.ellipse(box, fill=COLOURS[colour])
        else:
            draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=COLOURS[colour])
        name = f"img/{i // 1000:03d}/{i:06d}.png"
        (folder / name).parent.mkdir(exist_ok=True)
        image.save(folder / name, compress_level=1)
        rows.append({"file": name, "shape": shape, "colour": colour})
    pd.DataFrame(rows).to_csv(folder / "labels.csv", index=False)


def child(config: dict, mode: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(config), mode],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"the {mode} subprocess failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--quick", action="store_true", help="2,000 images, 64×64")
    args = parser.parse_args()
    count = 2_000 if args.quick else args.images
    size = 64 if args.quick else args.size
    with tempfile.TemporaryDirectory(prefix="mtl-images-bench-") as tmp:
        folder = Path(tmp) / "shapes"
        start = time.perf_counter()
        generate(folder, count, size)
        made = time.perf_counter() - start
        on_disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        config = {
            "name": "image-folder-memory",
            "data": {
                "dataset": "images",
                "path": str(folder),
                "options": {"size": size, "color": "rgb"},
            },
            "tasks": [
                {"name": "shape", "target": "shape", "kind": "multiclass"},
                {"name": "colour", "target": "colour", "kind": "multiclass"},
            ],
            "model": {"sharing": "hard", "encoder": "cnn", "channels": [8, 16], "hidden": [32]},
            "train": {"epochs": 1, "batch_size": 64, "lr": 0.003, "seed": 0, "log_every": 50},
        }
        floor = child(config, "prepare")
        run = child(config, "train")
        labels = pd.read_csv(folder / "labels.csv")
        labels.head(count // 10).to_csv(folder / "labels.csv", index=False)
        tenth = child(config, "train")  # the first tenth of the same folder
    mb = 2**20
    decoded = run["decoded_bytes"]
    growth = (run["peak_rss_bytes"] - tenth["peak_rss_bytes"]) / (decoded - tenth["decoded_bytes"])
    print(
        f"image folder memory: {count:,} PNG images {size}×{size} RGB "
        f"({on_disk / mb:,.0f} MB on disk, generated in {made:.0f} s), "
        f"python {sys.version.split()[0]}, OMP_NUM_THREADS=1"
    )
    print()
    print("| measure | MB |")
    print("|---------|---:|")
    print(
        f"| decoded images as float32 (N×3×{args.size}×{args.size}×4 bytes) | {decoded / mb:,.0f} |"
    )
    print(
        f"| peak RSS: imports + prepare, no training (floor) | {floor['peak_rss_bytes'] / mb:,.0f} |"
    )
    print(
        f"| peak RSS: one training epoch + val/test evaluation | {run['peak_rss_bytes'] / mb:,.0f} |"
    )
    print(
        f"| held in memory instead: at least floor + decoded | {(floor['peak_rss_bytes'] + decoded) / mb:,.0f} |"
    )
    print(
        f"| peak RSS: the same on the first {count // 10:,} images "
        f"(decoded {tenth['decoded_bytes'] / mb:,.0f} MB) | {tenth['peak_rss_bytes'] / mb:,.0f} |"
    )
    print()
    print(
        f"ratio peak RSS / decoded size: {run['peak_rss_bytes'] / decoded:.2f}; peak RSS grows by "
        f"{growth:.3f} MB per MB of decoded images ({count // 10:,} → {count:,} images); "
        f"training above the floor: {(run['peak_rss_bytes'] - floor['peak_rss_bytes']) / mb:,.0f} MB; "
        f"{run['steps']} steps in {run['seconds']} s, status {run['status']}, "
        f"test accuracy {json.dumps({k: round(v, 3) for k, v in run['accuracy'].items()})}"
    )


if __name__ == "__main__":
    main()
