"""Make the README's picture of `llava-cli review` (docs/review.png) on the shapes example.

Needs the work folder of examples/shapes/run.sh (data/, base/, lora/) and Chromium with
chromedriver (Debian: apt-get install chromium chromium-driver):

    python examples/shapes/review_screenshot.py --work examples/shapes/work --out docs/review.png

Draws a short video of shapes changing colour, classifies the held-out images and the video's
frames with the LoRA adapter, reviews a few rows through the API (as a person would with the
keys), then photographs the page in headless Chromium.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = "red,green,blue,yellow"
VIDEO_COLOURS = ["red"] * 5 + ["yellow"] * 6 + ["blue"] * 5  # 2 frames per second


def make_video(path: Path) -> None:
    import cv2
    import numpy as np

    spec = importlib.util.spec_from_file_location("make_shapes", HERE / "make_shapes.py")
    shapes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shapes)
    rng = random.Random(3)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 2.0, (128, 128))
    for colour in VIDEO_COLOURS:
        image = shapes.draw(colour, rng.choice(shapes.SHAPES), rng, 128)
        writer.write(cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR))
    writer.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--out", type=Path, default=HERE.parents[1] / "docs" / "review.png")
    args = parser.parse_args()
    work = args.work.resolve()
    demo = work / "review-demo"
    make_video(demo / "clip.mp4")
    out = demo / "plays.csv"
    subprocess.run(
        [sys.executable, "-m", "llava_cli", "classify", str(work / "data" / "val"), str(demo / "clip.mp4"),
         "--labels", LABELS, "--model", str(work / "base"), "--adapter", str(work / "lora"), "--every", "1",
         "--out", str(out), "--overwrite", "--device", "cpu", "--dtype", "float32", "-q"],
        check=True,
    )
    for stale in (demo / "plays.review.csv", demo / "plays.review.log"):
        stale.unlink(missing_ok=True)
    shutil.rmtree(demo / "plays.review.thumbs", ignore_errors=True)

    from llava_cli.review import Query, ReviewSession
    from llava_cli.review.server import ReviewServer

    session = ReviewSession(out)
    rows = session.list_rows(Query())
    for row in rows[:5]:  # the five least confident rows, checked against the truth
        truth = VIDEO_COLOURS[row.frame] if row.frame is not None else Path(row.source).parent.name
        session.accept(row.id) if truth == row.predicted else session.decide(row.id, truth)
    session.mark_unsure(rows[5].id)
    for row in session.list_rows(Query(source=str(demo / "clip.mp4"), sort="file"))[:4]:
        session.accept(row.id)

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("google-chrome") or "chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,860", "--hide-scrollbars"):
        options.add_argument(flag)
    with ReviewServer(session, port=0) as server:
        driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
        try:
            driver.get(server.url)
            for _ in range(100):
                if driver.execute_script("return document.body.dataset.ready === '1'"):
                    break
                time.sleep(0.1)
            driver.execute_script("document.querySelectorAll('#grid img').forEach(i => i.loading = 'eager')")
            for _ in range(200):  # every thumbnail drawn
                if driver.execute_script("return [...document.querySelectorAll('#grid img')].every(i => i.complete)"):
                    break
                time.sleep(0.1)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(args.out))
        finally:
            driver.quit()
    from PIL import Image

    with Image.open(args.out) as shot:  # 256 colours: a third of the bytes, text stays sharp
        small = shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(args.out, optimize=True)
    print(f"wrote {args.out}: {session.summary().line()}")


if __name__ == "__main__":
    main()
