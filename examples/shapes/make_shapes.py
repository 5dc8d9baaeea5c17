"""Draw the synthetic `shapes` data set: the class is the colour of one random shape.

Writes, under --out:
  train/<colour>/*.png, val/<colour>/*.png   a folder per class (held-out split in val/)
  train.csv, val.csv                          source,label (the labelled-CSV format)
  captions.csv                                image,caption ("a red circle") for stage 1
Deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 60, 220), "yellow": (235, 220, 40)}
SHAPES = ("circle", "square", "triangle")


def jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int = 25) -> tuple[int, ...]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in rgb)


def draw(colour: str, shape: str, rng: random.Random, size: int) -> Image.Image:
    grey = rng.randint(90, 170)
    img = Image.new("RGB", (size, size), (grey, grey, grey))
    pen = ImageDraw.Draw(img)
    side = rng.randint(size // 3, size * 3 // 4)
    x, y = rng.randint(0, size - side), rng.randint(0, size - side)
    fill = jitter(COLOURS[colour], rng)
    if shape == "circle":
        pen.ellipse((x, y, x + side, y + side), fill=fill)
    elif shape == "square":
        pen.rectangle((x, y, x + side, y + side), fill=fill)
    else:
        pen.polygon([(x + side // 2, y), (x, y + side), (x + side, y + side)], fill=fill)
    return img


def make(out: Path, per_class_train: int, per_class_val: int, size: int = 64, seed: int = 0) -> Path:
    """Write the data set into `out` and return it."""
    rng = random.Random(seed)
    captions = []
    for split, count in (("train", per_class_train), ("val", per_class_val)):
        rows = []
        for colour in COLOURS:
            folder = out / split / colour
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                shape = rng.choice(SHAPES)
                path = folder / f"{colour}_{shape}_{i:03d}.png"
                draw(colour, shape, rng, size).save(path)
                rows.append((path.relative_to(out).as_posix(), colour))
                if split == "train":
                    captions.append((path.relative_to(out).as_posix(), f"a {colour} {shape}"))
        with (out / f"{split}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["source", "label"])
            writer.writerows(rows)
    with (out / "captions.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption"])
        writer.writerows(captions)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("shapes-data"))
    parser.add_argument("--train", type=int, default=60, help="training images per class")
    parser.add_argument("--val", type=int, default=25, help="held-out images per class")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    make(args.out, args.train, args.val, seed=args.seed)
    print(f"wrote {4 * (args.train + args.val)} images to {args.out}")


if __name__ == "__main__":
    main()
