"""The routes the benchmark times against classify are correct implementations of what a user would
run: batched generate (left padding) and the pipeline give the same greedy text as one image at a
time, so classify's lead is not a handicapped peer's."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_measure  # noqa: E402

LABELS = ["shooting", "dribbling", "pass"]


@pytest.fixture()
def image_files(tmp_path):
    rng = np.random.default_rng(11)
    paths = []
    for i in range(5):  # sizes differ: the processor resizes them all to one shape
        path = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (40 + 6 * i, 56, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def test_batched_routes_generate_what_the_one_image_loop_generates(tiny_loaded, image_files):
    args = (tiny_loaded.model, tiny_loaded.processor, image_files, "Which play is it?", LABELS, 3,
            tiny_loaded.device, tiny_loaded.dtype)
    side = tiny_loaded.processor.tokenizer.padding_side
    one_by_one = bench_measure.naive_loop(*args)
    batched = bench_measure.batched_generate(*args, batch_size=2)  # batches of 2, 2 and 1
    piped = bench_measure.pipeline_route(*args, batch_size=2)
    assert len(one_by_one.replies) == 5 and any(one_by_one.replies)
    assert batched.replies == one_by_one.replies
    # The pipeline cuts the prompt off the decoded text, not off the tokens: a SentencePiece answer
    # can keep its leading space. The generated tokens are the same.
    assert [r.strip() for r in piped.replies] == [r.strip() for r in one_by_one.replies]
    assert batched.answers == piped.answers == [bench_measure.match_label(r, LABELS) for r in one_by_one.replies]
    assert tiny_loaded.processor.tokenizer.padding_side == side  # batched_generate puts it back


def test_match_label_prefers_the_longest_whole_word():
    assert bench_measure.match_label("He is passing the ball", ["pass", "passing"]) == "passing"
    assert bench_measure.match_label("a pass.", ["pass", "passing"]) == "pass"
    assert bench_measure.match_label("bypass", ["pass"]) is None


@pytest.mark.parametrize("name, group", [
    # kernel names as torch.profiler reports them on Hopper GPUs, and aten ops on a CPU
    ("nvjet_tst_192x192_64x4_2x1_v_bz_coopA_NNT", "matmul"),
    ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x256x64_warpgroupsize2x1x1_execute_segment_k_off_kernel__5x_cublas", "matmul"),
    ("void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4, false, false, cutlass::bfloat16_t>, true>", "attention"),
    ("aten::_scaled_dot_product_flash_attention_for_cpu", "attention"),
    ("aten::addmm", "matmul"),
    ("void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<c10::BFloat16>>", "other"),
    ("aten::silu", "other"),
])
def test_profile_groups_operators(name, group):
    import bench_split

    assert bench_split.group_of(name) == group
