"""How an image is fitted to the model's square input: LLaVA's pad-to-square, or the processor's crop.

llava-hf's LLaVA-1.5 processors resize the short side and center-crop a square, so a 16:9 video
frame loses 44% of its width before the model sees it. LLaVA-1.5 itself trained and evaluated with
`--image_aspect_ratio pad`: the image centred on a square of the processor's mean colour
(`expand2square` in haotian-liu/LLaVA llava/mm_utils.py), then the processor. transformers ships
exactly that as the LLaVA image processor's `do_pad`; `fit_processor` switches a checkpoint's
processor to it, so every command that calls the processor (classify, annotate, chat, finetune and
its held-out accuracy) gets the same pixels without knowing about fits.

What a processor does with an image (its "view"):
- "crop": resize the short side, center-crop (CLIPImageProcessor: LLaVA-1.5 checkpoints);
- "pad": pad to a square with the mean colour first (a LLaVA image processor with do_pad);
- "anyres": LLaVA-NeXT / OneVision tiling, which keeps the whole image by design; pad and crop
  do not apply there and the processor is left as it is;
- "resize": resize to a fixed height x width without cropping (SigLIP-style).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

from ..config import IMAGE_FITS

log = logging.getLogger(__name__)

ANYRES, PAD, CROP, RESIZE = "anyres", "pad", "crop", "resize"


def processor_view(image_processor) -> str:
    """What `image_processor` does to an image's aspect ratio: anyres, pad, crop or resize."""
    if getattr(image_processor, "image_grid_pinpoints", None):
        return ANYRES
    if callable(getattr(image_processor, "pad_to_square", None)) and getattr(image_processor, "do_pad", False):
        return PAD
    if getattr(image_processor, "do_center_crop", False):
        return CROP
    return RESIZE


@dataclass(frozen=True)
class FitChoice:
    """The fit a run uses (a processor view) and, when the request could not be followed, why."""

    fit: str
    note: str | None = None


def choose_fit(requested: str | None, view: str) -> FitChoice:
    """The fit for a processor whose own view is `view`, when the user asked for `requested`
    (None: the default, pad wherever the processor would crop, as LLaVA-1.5 was trained)."""
    if view == ANYRES:
        note = None
        if requested is not None:
            note = (f"--image-fit {requested} does not apply to this checkpoint: its processor tiles the whole "
                    "image at any resolution (LLaVA-NeXT anyres), so nothing is cropped; using it as it is")
        return FitChoice(ANYRES, note)
    if requested == PAD or (requested is None and view in (PAD, CROP)):
        return FitChoice(PAD)
    if view == RESIZE:
        note = None
        if requested == CROP:
            note = ("--image-fit crop: this checkpoint's processor resizes to a fixed size without cropping; "
                    "using it as it is")
        return FitChoice(RESIZE, note)
    return FitChoice(CROP)


def _llava_image_processor_class(image_processor):
    """transformers' LLaVA image processor on the same backend (PIL or torchvision) as `image_processor`,
    so that switching to it changes nothing but the padding."""
    if getattr(image_processor, "backend", "pil") == "pil":
        from transformers import LlavaImageProcessorPil

        return LlavaImageProcessorPil
    from transformers import LlavaImageProcessor

    return LlavaImageProcessor


def fit_image_processor(image_processor, fit: str):
    """`image_processor` set up for `fit` (a FitChoice.fit): itself when it already does that, else
    the LLaVA image processor with the same settings and do_pad on (pad) or off (crop)."""
    view = processor_view(image_processor)
    if fit == view or fit in (ANYRES, RESIZE):
        return image_processor
    cls = _llava_image_processor_class(image_processor)
    known = cls.valid_kwargs.__annotations__
    settings = {k: v for k, v in image_processor.to_dict().items() if k in known}
    settings["do_pad"] = fit == PAD
    if fit == CROP:
        settings["do_center_crop"] = True
    return cls(**settings)


def fit_processor(processor, requested: str | None) -> tuple[object, FitChoice]:
    """(processor set up for the fit, the choice). The processor passed in is never changed: a
    shallow copy carries the new image processor (tokenizer and template stay shared)."""
    choice = choose_fit(requested, processor_view(processor.image_processor))
    fitted = fit_image_processor(processor.image_processor, choice.fit)
    if fitted is processor.image_processor:
        return processor, choice
    out = copy.copy(processor)
    out.image_processor = fitted
    return out, choice


def image_fit(processor) -> str:
    """The fit a (fitted) processor applies: pad, crop, anyres or resize (what sidecars record)."""
    return processor_view(processor.image_processor)


def pad_background(image_processor) -> tuple[int, ...]:
    """LLaVA's padding colour: the processor's mean, in 0-255 (`tuple(int(x*255) for x in image_mean)`)."""
    return tuple(int(x * 255) for x in image_processor.image_mean)


def pad_to_square(image, background: tuple[int, ...]):
    """LLaVA's expand2square: `image` centred on a square of `background`, the short side padded."""
    from PIL import Image

    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    square = Image.new(image.mode, (side, side), background)
    square.paste(image, ((side - width) // 2, (side - height) // 2))
    return square


def prepad(image_processor, image):
    """For a padding processor, pad a PIL image here (a cheap paste) rather than in the processor,
    which pads a uint8 array and converts it back to PIL to resize (34 vs 25 ms with the processor
    on a 1080p frame).
    The pixels are the same: the processor's pad does nothing to a square image (see the tests)."""
    if processor_view(image_processor) != PAD or not hasattr(image, "size") or not hasattr(image, "mode"):
        return image
    return pad_to_square(image, pad_background(image_processor))


def trained_fit(meta: dict) -> str | None:
    """The fit an adapter was trained with, from its finetune_meta.json (None: unknown). Adapters
    written before --image-fit existed were trained on the processor as it is (crop, for LLaVA-1.5)."""
    if not meta:
        return None
    return meta.get("image_fit", CROP)


def adapter_fit_warning(adapter: str, meta: dict, fit: str) -> str | None:
    """A warning when an adapter trained with one fit is used with another, else None."""
    trained = trained_fit(meta)
    if trained is None or trained == fit or {trained, fit} - {PAD, CROP}:
        return None
    return (f"--adapter {adapter} was trained with --image-fit {trained} but this run uses {fit}: the model sees "
            f"images framed differently from training; pass --image-fit {trained} to match it")
