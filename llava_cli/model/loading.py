"""Load a LLaVA-family checkpoint, its processor and an optional LoRA adapter: the one place that does.

Works for any checkpoint the transformers auto classes load as image-text-to-text (LLaVA-1.5,
LLaVA-NeXT, ...), from a hub id or a local folder. Weights load as safetensors; remote code runs
only when the user asks for it. Device and dtype are resolved in llava_cli.model.device, the
quantization settings made in llava_cli.model.quantization.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ModelConfig
from .device import resolve_device, resolve_dtype
from ..errors import ModelLoadError
from .float8 import FLOAT8, float8_unavailable, to_float8
from .preprocess import adapter_fit_warning, fit_processor, image_fit
from .quantization import quantization_config
from .vision_trim import drop_unread_vision_layers

log = logging.getLogger(__name__)

@dataclass
class LoadedModel:
    """A model ready for inference, with what was resolved while loading it."""

    model: Any
    processor: Any
    device: Any  # torch.device of the inputs
    dtype: Any  # torch.dtype of the weights' compute
    config: ModelConfig

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    def describe(self) -> dict:
        return {
            "model": self.config.model,
            "adapter": self.config.adapter,
            "device": str(self.device),
            "dtype": FLOAT8 if self.config.dtype == FLOAT8 else str(self.dtype).replace("torch.", ""),
            "load_in_4bit": self.config.load_in_4bit,
            "load_in_8bit": self.config.load_in_8bit,
            "image_fit": image_fit(self.processor),
        }


def _explain_load_failure(what: str, exc: Exception) -> str:
    text = str(exc)
    lowered = text.lower()
    if looks_like_path(what) and not is_local(what):
        return missing_folder(what)
    if Path(what).exists():
        return f"cannot load {what}: {text.splitlines()[0] if text else type(exc).__name__}"
    offline_markers = ("offline", "connect", "resolve", "couldn't connect", "network", "timed out", "max retries")
    if any(marker in lowered for marker in offline_markers):
        return f"cannot reach the model hub to download {what}; pass --model PATH to a local checkpoint"
    if "not a valid model identifier" in lowered or "repository not found" in lowered or "404" in lowered:
        return f"{what} is neither a local folder nor a model on the hub; check the --model spelling or pass a local path"
    first = text.splitlines()[0] if text else type(exc).__name__
    return f"cannot load {what}: {first}"


def is_local(model: str) -> bool:
    return Path(model).expanduser().exists()


def looks_like_path(model: str) -> bool:
    """A hub id is `name` or `org/name`; anything else (./x, /x, ~/x, a/b/c) is meant as a folder."""
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model


def missing_folder(model: str) -> str:
    return f"no checkpoint folder at {model}; pass --model a hub id or an existing local folder"


def probe_hub(model: str, revision: str | None = None) -> None:
    """Fail fast, in one line, when a hub id cannot be downloaded.

    Downloading retries each file with back-off for minutes when the network is down; one metadata
    request (no retries, 10 s timeout) tells first. Raises ModelLoadError: hub unreachable (or
    HF_HUB_OFFLINE set), no such model, or a gated model without access.
    """
    from huggingface_hub import constants, model_info
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    if constants.HF_HUB_OFFLINE:
        raise ModelLoadError(f"{model} is not in the local cache and HF_HUB_OFFLINE is set; pass --model PATH to a local checkpoint")
    try:
        model_info(model, revision=revision, timeout=10)
    except GatedRepoError as exc:
        raise ModelLoadError(f"{model} is gated: accept its licence on the hub and log in (hf auth login)") from exc
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise ModelLoadError(
            f"{model} is neither a local folder nor a model on the hub; check the --model spelling or pass a local path"
        ) from exc
    except HfHubHTTPError as exc:
        raise ModelLoadError(f"the model hub refused {model}: {str(exc).splitlines()[0]}") from exc
    except Exception as exc:  # connection errors: httpx/requests/OSError depending on the hub client
        raise ModelLoadError(
            f"cannot reach the model hub to download {model} ({str(exc).splitlines()[0]}); "
            "pass --model PATH to a local checkpoint"
        ) from exc


def _from_pretrained(load, model: str, revision: str | None, **kwargs):
    """`load(model, ...)` from a folder, else from the local cache, else (after a quick probe) the hub."""
    if looks_like_path(model) and not is_local(model):
        raise ModelLoadError(missing_folder(model))
    if not is_local(model):
        try:
            return load(model, revision=revision, local_files_only=True, **kwargs)
        except (OSError, ValueError):
            probe_hub(model, revision)  # not (fully) cached: make sure the hub can be reached
    return load(model, revision=revision, **kwargs)


@functools.cache
def image_only_onevision_processor():
    """LlavaOnevisionProcessor without its video processor.

    transformers' LlavaOnevisionVideoProcessor needs torchvision, and without it neither the
    processor's constructor nor AutoProcessor.from_pretrained works, although llava-cli feeds
    only images. Dropping the video processor from the attributes leaves image and text
    processing exactly as they are."""
    from transformers import LlavaOnevisionProcessor

    class LlavaOnevisionImageOnly(LlavaOnevisionProcessor):
        @classmethod
        def get_attributes(cls):
            return ["image_processor", "tokenizer"]

    # save_pretrained then names the real class, as the published checkpoints do.
    LlavaOnevisionImageOnly.__name__ = LlavaOnevisionImageOnly.__qualname__ = "LlavaOnevisionProcessor"
    return LlavaOnevisionImageOnly


def _auto_processor(model: str, **kwargs):
    """AutoProcessor, except that a OneVision checkpoint loads image-only where torchvision is missing."""
    from transformers import AutoConfig, AutoProcessor

    try:
        return AutoProcessor.from_pretrained(model, **kwargs)
    except (ImportError, OSError) as exc:
        # No torchvision, or a checkpoint saved by an image-only processor (no video settings).
        if "torchvision" not in str(exc).lower() and "video processor" not in str(exc).lower():
            raise
        kwargs.pop("trust_remote_code", None)
        if getattr(AutoConfig.from_pretrained(model, **kwargs), "model_type", "") != "llava_onevision":
            raise
        return image_only_onevision_processor().from_pretrained(model, **kwargs)


def load_processor(cfg: ModelConfig):
    """Load only the processor (tokenizer, image processor, chat template), its image processor set
    up for `cfg.image_fit` (llava_cli.model.preprocess). Raises ModelLoadError."""
    try:
        processor = _from_pretrained(_auto_processor, cfg.model, cfg.revision, trust_remote_code=cfg.trust_remote_code)
    except ModelLoadError:
        raise
    except Exception as exc:  # transformers raises OSError, ValueError, HTTP errors...
        raise ModelLoadError(_explain_load_failure(cfg.model, exc)) from exc
    if not hasattr(processor, "tokenizer") or not hasattr(processor, "image_processor"):
        raise ModelLoadError(f"{cfg.model} has no image processor: it is not a vision-language checkpoint")
    # Batched prefixes are left-padded so every row's last prompt token sits at the same position.
    processor.tokenizer.padding_side = "left"
    if processor.tokenizer.pad_token_id is None:
        processor.tokenizer.pad_token = processor.tokenizer.eos_token
    return fitted_processor(processor, cfg.image_fit)


def fitted_processor(processor, requested: str | None):
    """`processor` set up for --image-fit `requested` (a copy when that changes it); a request that
    does not apply to the checkpoint is logged as a warning."""
    processor, choice = fit_processor(processor, requested)
    if choice.note:
        log.warning("warning: %s", choice.note)
    return processor


def adapter_meta(adapter: str | None) -> dict:
    """The adapter folder's finetune_meta.json ({} when there is none: not trained by llava-cli)."""
    import json

    path = Path(adapter) / "finetune_meta.json" if adapter else None
    if path is None or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("warning: cannot read %s (%s); not checking how the adapter was trained", path, exc)
        return {}


def warn_adapter_mismatch(adapter: str | None, processor) -> None:
    """Warn when the adapter was trained with another --image-fit than this run uses."""
    warning = adapter_fit_warning(adapter, adapter_meta(adapter), image_fit(processor)) if adapter else None
    if warning:
        log.warning("warning: %s", warning)


def with_image_fit(loaded: LoadedModel, requested: str | None) -> LoadedModel:
    """`loaded` with its processor set up for --image-fit `requested`: itself when nothing changes,
    else a copy (the model is shared). For callers that pass an already loaded model in."""
    from dataclasses import replace

    processor = fitted_processor(loaded.processor, requested)
    if processor is loaded.processor:
        return loaded
    warn_adapter_mismatch(loaded.config.adapter, processor)
    return replace(loaded, processor=processor, config=replace(loaded.config, image_fit=requested))


def load_model(cfg: ModelConfig, *, for_training: bool = False, keep_all_layers: bool = False) -> LoadedModel:
    """Load model + processor (+ adapter) on the requested device and dtype.

    An inference model leaves out the vision layers whose output is never read (`vision_trim`);
    one for training, or with `keep_all_layers` (to be saved, or compared whole), keeps them all.

    Raises ModelLoadError with a one-line, actionable message for missing/offline checkpoints,
    unavailable devices, missing bitsandbytes, or a bad adapter folder.
    """
    from transformers import AutoModelForImageTextToText

    device = resolve_device(cfg.device)
    dtype = resolve_dtype(cfg.dtype, device)
    float8 = cfg.dtype == FLOAT8
    if float8:  # before any weight is read: it may be 14 GB
        problem = "--dtype float8 is for inference; train in bfloat16" if for_training else float8_unavailable(device)
        if problem:
            raise ModelLoadError(problem)
    processor = load_processor(cfg)
    quant = quantization_config(cfg, dtype)
    kwargs: dict[str, Any] = dict(
        dtype=dtype,
        revision=cfg.revision,
        trust_remote_code=cfg.trust_remote_code,
        use_safetensors=None if cfg.trust_remote_code else True,
    )
    if quant is not None:
        kwargs["quantization_config"] = quant
        kwargs["device_map"] = {"": device.index or 0} if device.type == "cuda" else {"": str(device)}
    revision = kwargs.pop("revision")
    try:
        model = _from_pretrained(AutoModelForImageTextToText.from_pretrained, cfg.model, revision, **kwargs)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(_explain_load_failure(cfg.model, exc)) from exc
    if quant is None:
        model.to(device)
    if cfg.adapter:
        model = apply_adapter(model, cfg.adapter)
        warn_adapter_mismatch(cfg.adapter, processor)
        if float8:  # fold LoRA into the bf16 weights first, so the float8 weights carry it
            model = model.merge_and_unload()
    if float8:
        to_float8(model)
    if not for_training:
        model.eval()
    if not (for_training or keep_all_layers):
        dropped = drop_unread_vision_layers(model)  # exact: their output is never read
        log.debug("left out %d unread vision layer(s)", len(dropped.layers) if dropped else 0)
    return LoadedModel(model=model, processor=processor, device=device, dtype=dtype, config=cfg)


def apply_adapter(model, adapter: str):
    """Wrap `model` with a peft LoRA adapter folder. Raises ModelLoadError if it does not fit."""
    try:
        from peft import PeftModel

        return PeftModel.from_pretrained(model, adapter)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(
            f"cannot apply adapter {adapter}: {first}; is it a LoRA folder made for this --model?"
        ) from exc
