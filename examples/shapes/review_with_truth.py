"""Play the reviewer without a browser: correct a classify output through `llava_cli.review`, the
API behind `llava-cli review`, using the truth the shapes data knows (each image's class folder).

Goes through the rows in the page's order (lowest confidence first), reviews the first
--fraction of them: the model's label is accepted where it is right and replaced where it is
wrong; every --unsure-every'th reviewed row is marked unsure instead (left out of training).
Writes <output stem>.review.csv beside the output, the file `finetune --data` reads.

    python examples/shapes/review_with_truth.py W/train-before.csv --fraction 0.75 --unsure-every 10
"""

from __future__ import annotations

import argparse
from pathlib import Path

from llava_cli.review import Query, ReviewSession


def review(output: str, fraction: float, unsure_every: int) -> ReviewSession:
    session = ReviewSession(output)
    rows = session.list_rows(Query(status="unreviewed"))
    for i, row in enumerate(rows[: round(len(rows) * fraction)]):
        truth = Path(row.source).parent.name  # data/<split>/<colour>/<file>.png
        if unsure_every and i % unsure_every == unsure_every - 1:
            session.mark_unsure(row.id)
        elif truth == row.predicted:
            session.accept(row.id)
        else:
            session.decide(row.id, truth)
    return session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", help="a classify output of shapes images")
    parser.add_argument("--fraction", type=float, default=1.0, help="share of the rows to review, least confident first")
    parser.add_argument("--unsure-every", type=int, default=0, help="mark every N-th reviewed row unsure (0: none)")
    args = parser.parse_args()
    session = review(args.output, args.fraction, args.unsure_every)
    print(f"{session.review_path}: {session.summary().line()}")


if __name__ == "__main__":
    main()
