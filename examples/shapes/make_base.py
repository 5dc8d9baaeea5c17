"""Build the tiny random LLaVA the shapes example starts from (offline, a second or two).

It uses initializer_range 0.2: with the usual 0.02 a ~1M-parameter random model cannot express a
confident answer (its logits stay within about +-1.3) and nothing learns in a few steps. Widths
are multiples of 64 so the same base also works for --stage qlora (4-bit blocks need that).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from llava_cli.testing.tiny import TinyLlavaSpec, build_tiny_llava

SHAPES_SPEC = dict(initializer_range=0.2, text_hidden=64, text_heads=4, text_kv_heads=4, intermediate=128)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("shapes-base"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    build_tiny_llava(args.out, TinyLlavaSpec(seed=args.seed, **SHAPES_SPEC))
    print(f"wrote a tiny random LLaVA to {args.out}")


if __name__ == "__main__":
    main()
