"""Fetch, here, the wheels that `gpu_check.sh` needs on the device machine, into `wheels/`.

The device machine (kind nvidia-h200) reaches no package index, and its image differs from this
project's requirements (`/work/.library/device/KINDS.md`, read 2026-11-17/-28): Python 3.12,
torch 2.11.0+cu130, transformers 5.17 and no polars, bitsandbytes or torchao. With transformers
5.17 the scorer fails (its model outputs have no `.cache`, measured here with the 5.17 wheel), and
without polars nothing imports. So these travel as wheels, built for that Python and platform
(with peft and typer, whose versions there nobody has read):

    python benchmarks/gpu_wheels.py            # -> wheels/, prints the total against the limit
    run(command="bash benchmarks/gpu_check.sh", carry=["wheels"], timeout_s=600)

What is carried must fit 64 MiB together with the working tree. Two choices keep it there, both
measured in the suite here: polars 1.30 (pyproject's lower bound: one 36 MB wheel, where 2.x's
runtime alone is 54 MB), and a copy of bitsandbytes' wheel without the libraries for the CUDA,
ROCm and XPU versions that machine does not have (43 MB -> a few MB; bitsandbytes loads the
library named after torch's CUDA version, `libbitsandbytes_cuda130.so` there).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PINS = {
    "transformers": "5.24.0",  # pyproject's lower bound; the image's 5.17 fails in scoring
    "polars": "1.30.0",  # pyproject's lower bound, and one wheel that fits (see above)
    "torchao": "0.18.0",  # --dtype float8; supports torch >= 2.11
    "bitsandbytes": "0.50.2",  # 4/8-bit; trimmed to the libraries below
    # In the image, but at versions nobody has read there: small, so they travel at the tested ones.
    "peft": "0.21.2",
    "typer": "0.29.2",
}
# The device's torch is cu130; 13.2 kept for a newer image, the CPU library is always loaded first.
BITSANDBYTES_LIBRARIES_KEPT = ("libbitsandbytes_cpu.so", "libbitsandbytes_cuda130.so", "libbitsandbytes_cuda132.so")
CARRY_LIMIT_BYTES = 64 * 2**20
# pip's spelling of the device's interpreter and platform (device README, "Notes").
TARGET = [
    "--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp",
    *[arg for tag in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64",
                      "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64")
      for arg in ("--platform", tag)],
]


def download(pins: dict[str, str], dest: Path) -> list[Path]:
    """pip-download each pinned wheel (no dependencies: the image has the rest) into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    specs = [f"{name}=={version}" for name, version in pins.items()]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *TARGET, "-d", str(dest), *specs],
                   check=True)
    return [next(dest.glob(f"{name.replace('-', '_')}-{version}-*.whl")) for name, version in pins.items()]


def trim_wheel(wheel: Path, drop) -> list[str]:
    """Rewrite `wheel` in place without the members for which `drop(name)` is true; its RECORD
    loses their lines, so what is installed matches what RECORD lists."""
    tmp = wheel.with_suffix(".trimming")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        dropped = [name for name in src.namelist() if drop(name)]
        for info in src.infolist():
            if info.filename in dropped:
                continue
            data = src.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                kept = [line for line in data.decode().splitlines() if line.split(",", 1)[0] not in dropped]
                data = ("\n".join(kept) + "\n").encode()
            out.writestr(info, data)
    tmp.replace(wheel)
    return dropped


def unneeded_bitsandbytes_library(name: str) -> bool:
    """A native library of bitsandbytes for a platform other than the device's."""
    base = name.rsplit("/", 1)[-1]
    return base.startswith("libbitsandbytes_") and base not in BITSANDBYTES_LIBRARIES_KEPT


def tree_bytes() -> int:
    """Size of the files git would copy to the device (tracked and untracked, not ignored)."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    return sum((ROOT / n).stat().st_size for n in names if n and (ROOT / n).is_file())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=ROOT / "wheels")
    args = parser.parse_args(argv)
    for old in args.dest.glob("*.whl"):  # one version of each: two stop the install there
        old.unlink()
    wheels = download(PINS, args.dest)
    for wheel in wheels:
        if wheel.name.startswith("bitsandbytes-"):
            dropped = trim_wheel(wheel, unneeded_bitsandbytes_library)
            print(f"{wheel.name}: left out {len(dropped)} libraries for other CUDA/ROCm/XPU versions")
    carried = sum(w.stat().st_size for w in wheels)
    tree = tree_bytes()
    for wheel in wheels:
        print(f"  {wheel.stat().st_size / 2**20:6.1f} MiB  {wheel.name}")
    print(f"wheels {carried / 2**20:.1f} MiB + working tree {tree / 2**20:.1f} MiB "
          f"= {(carried + tree) / 2**20:.1f} MiB of the {CARRY_LIMIT_BYTES / 2**20:.0f} MiB a call carries")
    if carried + tree > CARRY_LIMIT_BYTES:
        print("error: too large to carry; leave a wheel out or trim it", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
