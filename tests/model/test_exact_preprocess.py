"""Exact preprocessing at the real LLaVA-1.5 geometry (336 px, 14-px patches, 576 image tokens).

classify's probabilities must equal an independent reference (the checkpoint's own processor on
the fully decoded image, a plain per-label forward, no cache) on a large JPEG photo and a 1080p
video frame, and classify, annotate, chat and finetune must give the model the same pixels.
"""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from factories import camera_image, make_camera_video
from llava_cli.classify.api import Classifier, prob_column, run_classify
from llava_cli.config import ClassifyConfig, InputConfig, ModelConfig, OutputConfig
from llava_cli.media.video import load_image, shrink
from llava_cli.model.loading import load_model, with_image_fit
from llava_cli.model.prompts import answer_tokens, render, render_prompt, user_message

LABELS = ["shooting", "dribbling", "passing", "pass"]


@pytest.fixture(scope="module")
def model336(tmp_path_factory):
    """A tiny random LLaVA whose processor has llava-1.5's real geometry (hidden sizes stay tiny)."""
    from llava_cli.testing.tiny import TinyLlavaSpec, build_tiny_llava

    return str(build_tiny_llava(tmp_path_factory.mktemp("llava336"), TinyLlavaSpec(image_size=336, patch_size=14)))


@pytest.fixture(scope="module")
def loaded336(model336):
    return load_model(ModelConfig(model=model336, device="cpu", dtype="float32"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A 1000x872 JPEG photo and a 1920x1080 video (its frame 0 is the 1080p frame)."""
    folder = tmp_path_factory.mktemp("large")
    photo = folder / "photo.jpg"
    camera_image(1000, 872, seed=5).save(photo, quality=90)
    video = make_camera_video(folder / "clip.mp4", frames=2, size=(1920, 1080))
    return photo, video


def decoded_independently(path) -> Image.Image:
    """The fully decoded image, without llava_cli: PIL for a photo, OpenCV's frame 0 for a video."""
    if str(path).endswith(".mp4"):
        import cv2

        cap = cv2.VideoCapture(str(path))
        ok, bgr = cap.read()
        cap.release()
        assert ok
        return Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    with Image.open(path) as img:
        return img.convert("RGB")


def expand2square(pil_img, background_color):
    """LLaVA's own pad-to-square (haotian-liu/LLaVA llava/mm_utils.py)."""
    width, height = pil_img.size
    if width == height:
        return pil_img
    side = max(width, height)
    result = Image.new(pil_img.mode, (side, side), background_color)
    result.paste(pil_img, ((side - width) // 2, (side - height) // 2))
    return result


def reference_pixels(model_dir, image, fit: str) -> torch.Tensor:
    """The checkpoint's processor, loaded straight from transformers, on the image (padded first
    with LLaVA's code for pad)."""
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(model_dir).image_processor
    if fit == "pad":
        image = expand2square(image, tuple(int(x * 255) for x in processor.image_mean))
    return processor(images=[image], return_tensors="pt")["pixel_values"]


def reference_probabilities(loaded, pixels: torch.Tensor) -> torch.Tensor:
    """softmax over labels of log P(label tokens + end token | prompt), each label run through the
    model on its own: prompt ids + answer ids, one forward, no cache, no packing, no batching."""
    processor, model = loaded.processor, loaded.model
    history = [user_message(render_prompt(None, LABELS))]
    prefix = render(processor, history, add_generation_prompt=True)
    n_image = pixels.shape[-1] // 14 * pixels.shape[-2] // 14
    # as the processor tokenizes: the expanded image placeholder, special tokens (bos) included
    prefix_ids = processor.tokenizer(prefix.replace("<image>", "<image>" * n_image), return_tensors="pt")["input_ids"]
    assert (prefix_ids == model.config.image_token_id).sum() == 576
    scores = []
    for label in LABELS:
        ids = list(answer_tokens(processor, history, label).ids)
        input_ids = torch.cat([prefix_ids, torch.tensor([ids])], dim=1)
        with torch.no_grad():
            logits = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), pixel_values=pixels).logits
        logp = torch.log_softmax(logits[0].float(), dim=-1)
        start = prefix_ids.shape[1]
        scores.append(sum(logp[start - 1 + k, t].item() for k, t in enumerate(ids)))
    return torch.softmax(torch.tensor(scores), dim=-1)


def classify_rows(loaded, model_dir, paths, out, **extra):
    cfg = ClassifyConfig(
        labels=LABELS,
        model=ModelConfig(model=model_dir, device="cpu", dtype="float32", image_fit=extra.pop("image_fit", None)),
        inputs=InputConfig(paths=[str(p) for p in paths], every=1, max_frames=1),
        output=OutputConfig(out=str(out), overwrite=True, quiet=True),
        batch_size=2,
        **extra,
    )
    run = run_classify(cfg, loaded=loaded)
    assert run.stats.errors == 0
    return run


@pytest.mark.parametrize("fit", ["pad", "crop"])
def test_classify_equals_the_reference_on_a_large_photo_and_a_1080p_frame(loaded336, model336, inputs, tmp_path, fit):
    photo, video = inputs
    run = classify_rows(loaded336, model336, [photo, video], tmp_path / "out.csv", image_fit=fit)
    rows = run.rows()
    assert rows["source"].to_list() == [str(photo), str(video)] and rows["frame"].to_list() == [None, 0]
    assert decoded_independently(video).size == (1920, 1080)
    for row, path in zip(rows.iter_rows(named=True), (photo, video)):
        pixels = reference_pixels(model336, decoded_independently(path), fit)
        want = reference_probabilities(with_image_fit(loaded336, fit), pixels)
        got = torch.tensor([row[prob_column(lab)] for lab in LABELS], dtype=want.dtype)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    sidecar = json.loads(run.sidecar.read_text())
    assert sidecar["image_fit"] == fit and sidecar["fast_decode"] is False


def test_fast_decode_is_opt_in_approximate_and_recorded(loaded336, model336, inputs, tmp_path):
    """The draft/reduce shortcut really gives other pixels on both inputs, and only when asked for."""
    photo, video = inputs
    clf = Classifier(loaded336, LABELS)
    assert clf.min_side == 336
    exact = [load_image(photo), decoded_independently(video)]
    fast = [load_image(photo, min_side=clf.min_side), shrink(decoded_independently(video), clf.min_side)]
    assert fast[0].size == (500, 436) and fast[1].size == (640, 360)
    for a, b in zip(exact, fast):
        assert not torch.equal(clf.encode(a)["pixel_values"], clf.encode(b)["pixel_values"])
    run = classify_rows(loaded336, model336, [photo, video], tmp_path / "fast.csv", fast_decode=True)
    assert json.loads(run.sidecar.read_text())["fast_decode"] is True
    probs = clf.predict_proba(fast).tolist()
    for row, p in zip(run.rows().iter_rows(named=True), probs):
        assert [row[prob_column(lab)] for lab in LABELS] == pytest.approx(p, abs=1e-5)


def test_classify_annotate_chat_and_finetune_feed_identical_pixels(loaded336, model336, inputs, tmp_path):
    from llava_cli.finetune.collate import ConversationDataset, ConversationEncoder
    from llava_cli.finetune.config import FinetuneConfig
    from llava_cli.finetune.data import read_data
    from llava_cli.finetune.train import load_base
    from llava_cli.annotate.api import AnnotateConfig, run_annotate
    from llava_cli.chat.session import ChatConfig, open_session

    photo, _ = inputs
    seen: list[torch.Tensor] = []
    tower = loaded336.model.model.vision_tower
    hook = tower.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append((args[0] if args else kwargs["pixel_values"]).detach().clone()),
        with_kwargs=True,
    )
    try:
        classify_rows(loaded336, model336, [photo], tmp_path / "c.csv")
        run_annotate(
            AnnotateConfig(
                prompt="Describe it.",
                model=ModelConfig(model=model336, device="cpu", dtype="float32"),
                inputs=InputConfig(paths=[str(photo)]),
                output=OutputConfig(out=str(tmp_path / "a.csv"), overwrite=True, quiet=True),
                max_new_tokens=1,
            ),
            loaded=loaded336,
        )
        chat = ChatConfig(image=str(photo), model=ModelConfig(model=model336, device="cpu", dtype="float32"), max_new_tokens=1)
        open_session(chat, loaded=loaded336).ask("What is it?")
    finally:
        hook.remove()
    assert len(seen) == 3, "classify, annotate and chat each run the vision tower once"

    # finetune: the processor it trains with, on its data path (labelled CSV -> dataset item)
    data = tmp_path / "train.csv"
    data.write_text(f"source,label\n{photo},shooting\n")
    cfg = FinetuneConfig(model=model336, data=str(data), output=str(tmp_path / "ft"), device="cpu", labels=LABELS).validate()
    _, processor, _ = load_base(cfg)
    dataset = read_data(cfg.data, labels=LABELS, prompt=None, image_folder=None)
    seen.append(ConversationDataset(dataset.conversations, ConversationEncoder(processor))[0]["pixel_values"])

    want = reference_pixels(model336, decoded_independently(photo), "pad")
    for name, pixels in zip(("classify", "annotate", "chat", "finetune"), seen):
        assert torch.equal(pixels, want), name
