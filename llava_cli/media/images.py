"""Decode image files into upright RGB PIL images: the one decoder every command uses.

Every input becomes RGB the same way whatever its mode (grayscale, palette, RGBA, CMYK, 16-bit),
upright according to its EXIF orientation. Decoding failures raise InputError with a message that
names the file, so batch commands can turn them into error rows. A FIFO or device is never opened.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

from ..errors import InputError


def to_rgb(img):
    """Convert any PIL mode to 8-bit RGB; transparency is composited on white, 16-bit is rescaled."""
    import numpy as np
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        if img.mode.startswith("I;16"):
            lo, hi = 0.0, 65535.0
        scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo) * 255.0
        return Image.fromarray(scaled.clip(0, 255).astype(np.uint8), "L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def is_regular_file(path: str | Path) -> bool:
    """True for a regular file (links followed); False for folders, FIFOs, devices, broken links."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def require_regular_file(path: str | Path) -> None:
    """Raise InputError unless `path` is a regular file. A FIFO or device is never opened: reading
    one can block forever; a broken link is reported as one."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(f"{path}: broken symbolic link (it points to {os.readlink(path)}, which does not exist)") from None
        raise InputError(f"{path}: file not found") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied; check the file's read permissions") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a folder, not an image or video")
    if not stat.S_ISREG(mode):
        raise InputError(f"{path}: not a regular file (a FIFO, socket or device); only regular files are read")


def load_image(path: str | Path, *, min_side: int | None = None):
    """Open `path` as an upright RGB image, fully decoded. Raises InputError naming the file on any
    decode failure. Every command decodes images here, so they all give the model the same pixels.

    `min_side` (classify --fast-decode only) lets JPEG decoding use draft mode (DCT scaling) to
    decode straight to a smaller size that still has at least that many pixels on its short side:
    a 1280x720 frame decodes ~4x faster, but the pixels the processor then makes differ from those
    of the full image (probabilities moved by up to 0.24 on a 336-px model; see the README).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    require_regular_file(path)
    try:
        if path.stat().st_size == 0:
            raise InputError(f"{path}: empty file (0 bytes); remove it or re-export the image")
        with Image.open(path) as img:
            if min_side and img.format == "JPEG":
                w, h = img.size
                scale = min_side / min(w, h)
                if scale < 1:
                    img.draft("RGB", (math.ceil(w * scale), math.ceil(h * scale)))
            img.load()
            img = ImageOps.exif_transpose(img) or img
            return to_rgb(img)
    except InputError:
        raise
    except FileNotFoundError as exc:
        raise InputError(f"{path}: file not found") from exc
    except PermissionError as exc:
        raise InputError(f"{path}: permission denied; check the file's read permissions") from exc
    except UnidentifiedImageError as exc:
        raise InputError(f"{path}: not a readable image (unknown or corrupt format)") from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot decode image ({reason}); re-export or remove it") from exc


def shrink(img, min_side: int | None):
    """Box-downscale an already decoded image by an integer factor, keeping its short side >= min_side.

    The decoded-frame counterpart of JPEG draft mode (classify --fast-decode only): a 1920x1080
    video frame becomes 960x540 before the processor's (much slower) bicubic resize, which then has
    4x fewer pixels to read. Approximate: two downscales are not the processor's one.
    """
    if not min_side:
        return img
    factor = min(img.size) // min_side
    return img.reduce(factor) if factor >= 2 else img
