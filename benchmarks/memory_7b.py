"""Peak GPU memory of each training stage for the llava-1.5-7b shape (random weights, bf16).

Builds the real geometry (CLIP ViT-L/14-336 + a Llama-2-7B-shaped LLM, 576 image tokens) directly on
the GPU, then runs one training step per setting and reports torch.cuda.max_memory_allocated:
  stage 1 (projector only), LoRA r=128 on the language model + projector, and stage 2 (projector +
  LLM full). A full AdamW stage 2 does not fit one 80 GB card, so for it the forward+backward peak
  is measured without optimizer states and the AdamW states (8 bytes per trainable parameter, fp32
  m and v) are added as a computed figure, labelled as such. Needs CUDA; prints a table and JSON.

    python benchmarks/memory_7b.py --out-json mem.json
"""

from __future__ import annotations

import argparse
import json
import re
import time

import torch

LM_LINEAR = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"


def build_7b(device: str = "cuda"):
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    vision = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                              image_size=336, patch_size=14, projection_dim=768)
    text = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                       num_key_value_heads=32, vocab_size=32064, max_position_embeddings=4096)
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_id=32000,
                         vision_feature_select_strategy="default", vision_feature_layer=-2)
    config._attn_implementation = "sdpa"
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = LlavaForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    return model


def batch(batch_size: int, device: str = "cuda", prompt_tokens: int = 60, answer_tokens: int = 4):
    image = torch.full((batch_size, 576), 32000, dtype=torch.long)
    text = torch.randint(0, 32000, (batch_size, prompt_tokens + answer_tokens))
    ids = torch.cat([text[:, :5], image, text[:, 5:]], dim=1).to(device)
    labels = torch.full_like(ids, -100)
    labels[:, -answer_tokens:] = ids[:, -answer_tokens:]
    pixels = torch.randn(batch_size, 3, 336, 336, device=device, dtype=torch.bfloat16)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "pixel_values": pixels, "labels": labels}


def set_trainable(model, projector: bool, llm: bool) -> int:
    for name, param in model.named_parameters():
        is_projector = "multi_modal_projector" in name
        is_llm = "language_model" in name or name.startswith("lm_head")
        param.requires_grad_((projector and is_projector) or (llm and is_llm))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def step(model, batch_size: int, with_optimizer: bool) -> float:
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5, fused=True) if with_optimizer else None
    out = model(**batch(batch_size))
    out.loss.backward()
    if optimizer is not None:
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    else:
        for p in params:
            p.grad = None
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() / 2**30
    del optimizer, out
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-json")
    parser.add_argument("--batch-sizes", default="1,4,8")
    args = parser.parse_args()
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    t0 = time.time()
    model = build_7b()
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    weights = torch.cuda.memory_allocated() / 2**30
    print(f"built 7b-shaped LLaVA in {time.time() - t0:.0f}s: {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B params, {weights:.1f} GiB bf16 weights")
    rows = []

    n = set_trainable(model, projector=True, llm=False)
    for bs in sizes:
        rows.append({"stage": "pretrain (projector)", "batch": bs, "trainable": n, "peak_gib": step(model, bs, True), "kind": "measured"})

    n = set_trainable(model, projector=True, llm=True)
    peak = step(model, 1, with_optimizer=False)
    adam = 8 * n / 2**30
    rows.append({"stage": "instruct (full LLM), fwd+bwd", "batch": 1, "trainable": n, "peak_gib": peak, "kind": "measured"})
    rows.append({"stage": "instruct + AdamW states", "batch": 1, "trainable": n, "peak_gib": peak + adam,
                 "kind": f"computed: measured + {adam:.0f} GiB fp32 m,v (use ZeRO-3 across GPUs)"})

    from peft import LoraConfig, get_peft_model

    set_trainable(model, projector=False, llm=False)
    lora = get_peft_model(model, LoraConfig(r=128, lora_alpha=256, target_modules=LM_LINEAR,
                                            modules_to_save=["multi_modal_projector"], lora_dropout=0.05))
    n = sum(p.numel() for p in lora.parameters() if p.requires_grad)
    for bs in sizes:
        rows.append({"stage": "lora r128 + projector", "batch": bs, "trainable": n, "peak_gib": step(lora, bs, True), "kind": "measured"})
    # QLoRA: NF4 weights are ~0.5 byte/param (+ double-quant constants) for the LLM's linear layers.
    llm_linear = sum(m.weight.numel() for name, m in model.named_modules()
                     if re.fullmatch(LM_LINEAR, name) and hasattr(m, "weight") and m.weight.dim() == 2)
    saved = llm_linear * (2 - 0.53) / 2**30
    lora_rows = [r for r in rows if r["stage"].startswith("lora")]
    for r in lora_rows:
        rows.append({"stage": "qlora r128 + projector", "batch": r["batch"], "trainable": r["trainable"],
                     "peak_gib": r["peak_gib"] - saved, "kind": f"computed: lora peak - {saved:.1f} GiB (bf16 -> NF4 LLM linears)"})

    print(f"{'stage':34} {'batch':>5} {'trainable':>13} {'peak GiB':>9}  kind")
    for r in rows:
        print(f"{r['stage']:34} {r['batch']:5d} {r['trainable']:13,d} {r['peak_gib']:9.1f}  {r['kind']}")
    if args.out_json:
        with open(args.out_json, "w") as fh:
            json.dump({"device": torch.cuda.get_device_name(), "weights_gib": weights, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
