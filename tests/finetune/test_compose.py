"""A tiny CLIP and a tiny Llama saved separately compose into a LLaVA that classify loads."""

from finetune_factories import LABELS


def test_compose_then_classify(tmp_path, trainable_base):
    from PIL import Image
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import (CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM,
                              PreTrainedTokenizerFast)

    from llava_cli.finetune.compose import compose_llava
    from llava_cli.classify.api import Classifier
    from llava_cli.config import ModelConfig
    from llava_cli.model.loading import load_model

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.train_from_iterator(["red green blue yellow image colour answer"] * 3, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    assert "<image>" not in tok.get_vocab()
    CLIPVisionModel(CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                     image_size=32, patch_size=8)).save_pretrained(tmp_path / "clip")
    lm = LlamaForCausalLM(LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=4,
                                      num_key_value_heads=4, vocab_size=len(tok), tie_word_embeddings=False))
    lm.save_pretrained(tmp_path / "llm")
    tok.save_pretrained(tmp_path / "llm")

    model, processor = compose_llava(str(tmp_path / "clip"), str(tmp_path / "llm"))
    assert model.get_input_embeddings().weight.shape[0] == len(processor.tokenizer) == len(tok) + 1
    assert model.config.image_token_index == processor.tokenizer.convert_tokens_to_ids("<image>")
    proj = model.model.multi_modal_projector
    assert proj.linear_1.in_features == 32 and proj.linear_2.out_features == 64  # two layers, GELU between
    model.save_pretrained(tmp_path / "llava")
    processor.save_pretrained(tmp_path / "llava")

    loaded = load_model(ModelConfig(model=str(tmp_path / "llava"), device="cpu", dtype="float32"))
    probs = Classifier(loaded, LABELS).predict_proba([Image.new("RGB", (40, 40), (0, 0, 255))])
    assert probs.shape == (1, 4) and abs(float(probs.sum()) - 1) < 1e-5
