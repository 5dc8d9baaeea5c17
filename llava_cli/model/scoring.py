"""Score labels by their likelihood as the model's answer, reusing the image+prompt prefix.

For a batch of images, one forward pass runs the shared prefix (image tokens + prompt) and keeps
its KV cache and the logits of its last position only. A second, small forward pass feeds every
label's tokens at once, packed side by side, with a 4D attention mask that lets each label see the
prefix and its own earlier tokens only. Nothing of the prefix is recomputed or copied per label,
and logits are computed only where a label token is predicted.

log P(label) = sum of log-probabilities of the label's tokens and of the end-of-answer token, so
labels sharing a prefix ("pass" / "passing") are told apart by whether the answer ends there.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .prompts import AnswerTokens


@dataclass
class PackedLabels:
    """Label token sequences laid out for the packed continuation pass."""

    first_ids: torch.Tensor  # [L] first token of each label (predicted by the prefix's last position)
    feed_ids: torch.Tensor  # [T] tokens fed in the continuation (each label minus its last token)
    feed_offset: torch.Tensor  # [T] position of each fed token within its label
    feed_label: torch.Tensor  # [T] which label each fed token belongs to
    target_ids: torch.Tensor  # [T] the token predicted at each fed position (the next label token)
    block_mask: torch.Tensor  # [T, T] True where fed token i may attend to fed token j

    @classmethod
    def build(cls, answers: list[AnswerTokens]) -> "PackedLabels":
        feed, offset, owner, target = [], [], [], []
        for index, answer in enumerate(answers):
            ids = list(answer.ids)
            for k in range(len(ids) - 1):
                feed.append(ids[k])
                offset.append(k)
                owner.append(index)
                target.append(ids[k + 1])
        owner_t = torch.tensor(owner, dtype=torch.long)
        offset_t = torch.tensor(offset, dtype=torch.long)
        same_label = owner_t[:, None] == owner_t[None, :]
        causal = offset_t[None, :] <= offset_t[:, None]
        return cls(
            first_ids=torch.tensor([a.ids[0] for a in answers], dtype=torch.long),
            feed_ids=torch.tensor(feed, dtype=torch.long),
            feed_offset=offset_t,
            feed_label=owner_t,
            target_ids=torch.tensor(target, dtype=torch.long),
            block_mask=same_label & causal,
        )


class LabelScorer:
    """Log-likelihood of each label as the answer to an already-tokenized image+prompt prefix."""

    def __init__(self, model, answers: list[AnswerTokens], device, dtype, *, compile: bool = False):
        self.model = model
        self.device = device
        self.dtype = dtype
        self.packed = PackedLabels.build(answers)
        self.num_labels = len(answers)
        # --compile: both passes go through one compiled wrapper (the model itself is unchanged).
        # Static shapes: a graph per batch shape, so callers keep the batch size fixed (Classifier
        # pads a short last batch) and the label pass always has the same shape.
        self.compiled = compile
        self.forward = torch.compile(model, dynamic=False) if compile else model

    @torch.inference_mode()
    def score(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Return [B, L] label log-likelihoods (float32) for a collated, left-padded batch."""
        packed = self.packed
        dev = self.device
        input_ids = batch["input_ids"].to(dev)
        attention_mask = batch["attention_mask"].to(dev)
        extra = {k: v.to(dev) for k, v in batch.items() if k not in ("input_ids", "attention_mask")}
        if "pixel_values" in extra and extra["pixel_values"].is_floating_point():
            extra["pixel_values"] = extra["pixel_values"].to(self.dtype)
        position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        out = self.forward(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=True,
            logits_to_keep=1,
            **extra,
        )
        first_logp = torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # [B, V]
        scores = first_logp[:, packed.first_ids.to(dev)]  # [B, L]
        if packed.feed_ids.numel() == 0:
            return scores

        bsz, prefix_len = attention_mask.shape
        n_feed = packed.feed_ids.numel()
        # Each fed token sees the real (unpadded) prefix and the earlier tokens of its own label.
        prefix_visible = attention_mask.bool()[:, None, None, :].expand(bsz, 1, n_feed, prefix_len)
        own_label = packed.block_mask.to(dev)[None, None].expand(bsz, 1, n_feed, n_feed)
        allowed = torch.cat([prefix_visible, own_label], dim=-1)
        mask = torch.zeros(allowed.shape, dtype=self.dtype, device=dev)
        mask.masked_fill_(~allowed, torch.finfo(self.dtype).min)
        seq_len = attention_mask.long().sum(-1, keepdim=True)  # real prefix length per row
        cont = self.forward(
            input_ids=packed.feed_ids.to(dev)[None].expand(bsz, n_feed),
            attention_mask=mask,
            position_ids=seq_len + packed.feed_offset.to(dev)[None],
            cache=out.cache,
            use_cache=True,
        )
        cont_logp = torch.log_softmax(cont.logits.float(), dim=-1)  # [B, T, V]
        token_logp = cont_logp.gather(-1, packed.target_ids.to(dev)[None, :, None].expand(bsz, n_feed, 1))[..., 0]
        return scores.index_add(1, packed.feed_label.to(dev), token_logp)
