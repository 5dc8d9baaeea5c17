"""Every family trains on LLaVA-release-shaped data and its output loads straight back.

Rows are shaped like LLaVA's own files: blip_laion_cc_sbu_558k.json (stage 1; `<image>` at the
*end* of the human turn) and llava_v1_5_mix665k.json (stage 2; multi-turn, and text-only rows
without an `image` key), and like classify's CSV once corrected (LoRA).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from llava_cli.finetune.collate import IGNORE_INDEX
from test_llava_formats import FAMILIES

LABELS = ["red", "green"]


@pytest.fixture(scope="module")
def release_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("release-data")
    (root / "00453").mkdir()
    (root / "coco" / "train2017").mkdir(parents=True)
    for i, colour in enumerate([(220, 20, 20), (20, 200, 20)] * 2):
        Image.new("RGB", (48, 36), colour).save(root / "00453" / f"00453{i}.jpg")
        Image.new("RGB", (36, 48), colour).save(root / "coco" / "train2017" / f"{i:012d}.jpg")
    blip = [{"id": f"00453{i}", "image": f"00453/00453{i}.jpg", "conversations": [
        {"from": "human", "value": "Render a clear and concise summary of the photo.\n<image>"},
        {"from": "gpt", "value": f"a {'red' if i % 2 == 0 else 'green'} rectangle on a plain background"}]} for i in range(4)]
    mix = [{"id": f"{i:012d}", "image": f"coco/train2017/{i:012d}.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhat is the colour of the picture?"},
        {"from": "gpt", "value": "It is red." if i % 2 == 0 else "It is green."},
        {"from": "human", "value": "Is it a photo of a person?"},
        {"from": "gpt", "value": "No."}]} for i in range(4)]
    mix.append({"id": "text-only", "conversations": [
        {"from": "human", "value": "Say yes or no: is red a colour?"}, {"from": "gpt", "value": "yes"}]})
    (root / "blip_laion_cc_sbu_558k.json").write_text(json.dumps(blip))
    (root / "llava_v1_5_mix665k.json").write_text(json.dumps(mix))
    rows = ["source,frame,timestamp_s,label,confidence,p_red,p_green,error"]
    rows += [f"00453/00453{i}.jpg,,,{LABELS[i % 2]},0.5,0.5,0.5," for i in range(4)]
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def train(stage: str, model: str, data: Path, out: Path, **extra):
    from llava_cli.finetune.api import finetune
    from llava_cli.finetune.config import FinetuneConfig

    cfg = FinetuneConfig(stage=stage, model=model, data=str(data), image_folder=str(data.parent), output=str(out),
                         device="cpu", dtype="float32", quiet=True, max_steps=2, batch_size=2, lr=1e-3,
                         save_steps=1000, logging_steps=1, lora_r=4, lora_alpha=8, **extra)
    return finetune(cfg.validate())


@pytest.mark.parametrize("family", FAMILIES)
def test_stage1_stage2_lora_train_and_load_back(family, family_dir, release_data, tmp_path):
    from llava_cli.classify.api import Classifier
    from llava_cli.config import ModelConfig
    from llava_cli.model.loading import load_model

    base = family_dir(family)
    stage1 = train("pretrain", base, release_data / "blip_laion_cc_sbu_558k.json", tmp_path / "stage1")
    stage2 = train("instruct", str(stage1.output), release_data / "llava_v1_5_mix665k.json", tmp_path / "stage2")
    lora = train("lora", str(stage2.output), release_data / "labels.csv", tmp_path / "lora", labels=LABELS)
    assert stage1.steps == stage2.steps == lora.steps == 2
    image = Image.open(release_data / "00453" / "004530.jpg")
    for adapter in (None, str(lora.output)):
        loaded = load_model(ModelConfig(model=str(stage2.output), adapter=adapter, device="cpu", dtype="float32"))
        probs = Classifier(loaded, LABELS).predict_proba([image])
        assert probs.shape == (1, 2) and abs(float(probs.sum()) - 1) < 1e-5


@pytest.mark.parametrize("family", FAMILIES)
def test_every_665k_row_encodes_with_its_answers_trained(family, family_processor, release_data):
    """No row is silently masked out: each answer of each row is in the loss."""
    from llava_cli.finetune.collate import ConversationEncoder
    from llava_cli.finetune.data.llava_json import read_llava_json
    from llava_cli.media.video import load_image

    data = read_llava_json(release_data / "llava_v1_5_mix665k.json", release_data)
    assert not data.bad and len(data.conversations) == 5
    encoder = ConversationEncoder(family_processor(family))
    for conv in data.conversations:
        encoded = encoder.encode(conv, load_image(conv.image) if conv.image else None)
        trained = int((encoded["labels"] != IGNORE_INDEX).sum())
        assert trained >= sum(1 for t in conv.turns if t.role == "assistant") * 2  # answer + end, per turn
