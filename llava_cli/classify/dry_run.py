"""`--dry-run`: what a run would do (prompt, label tokens, inputs), without loading the model."""

from __future__ import annotations

from ..config import ClassifyConfig
from ..errors import ModelLoadError
from ..media.inputs import find_inputs
from ..model.loading import load_processor
from ..model.preprocess import image_fit
from ..model.prompts import answer_tokens, check_system_supported, render, render_prompt, user_message, with_system


def describe_classify(cfg: ClassifyConfig, max_listed: int = 20) -> str:
    """Text report of the rendered prompt (after the --system message), how each label tokenizes,
    how images are fitted and decoded, and the inputs found. Raises UsageError when the chat
    template cannot take --system."""
    items = find_inputs(cfg.inputs.paths, cfg.inputs.from_list)
    prompt = render_prompt(cfg.prompt, cfg.labels)
    lines = [f"model: {cfg.model.model}" + (f" + adapter {cfg.model.adapter}" if cfg.model.adapter else "")]
    if cfg.system:
        lines += ["system:", f"  {cfg.system}"]
    lines += ["prompt:", f"  {prompt}"]
    try:
        processor = load_processor(cfg.model)
    except ModelLoadError as exc:
        lines.append(f"(label tokens unavailable: {exc})")
    else:
        if cfg.system:
            check_system_supported(processor, cfg.system)
        history = with_system(cfg.system, [user_message(prompt)])
        lines += ["rendered:", "  " + render(processor, history, add_generation_prompt=True).replace("\n", "\n  ")]
        lines.append("label tokens (answer + end-of-answer):")
        tok = processor.tokenizer
        for label in cfg.labels:
            ans = answer_tokens(processor, history, label)
            pieces = " | ".join(repr(tok.decode([i])) for i in ans.ids)
            lines.append(f"  {label}: {list(ans.ids)}  {pieces}")
        decode = "JPEG draft mode + box reduce (--fast-decode, approximate)" if cfg.fast_decode else "full (exact)"
        lines.append(f"images: fit {image_fit(processor)}, decoding {decode}")
    videos = sum(1 for i in items if i.kind == "video")
    lines.append(f"inputs: {len(items)} ({len(items) - videos} images, {videos} videos)")
    lines += [f"  {item.source}" + ("  [video]" if item.kind == "video" else "") for item in items[:max_listed]]
    if len(items) > max_listed:
        lines.append(f"  ... and {len(items) - max_listed} more")
    lines.append(f"output: {cfg.output.out}")
    return "\n".join(lines)
