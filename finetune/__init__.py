"""Fine-tuning for llava-cli: the LLaVA paper's two stages, and LoRA/QLoRA domain adaptation.

`llava_cli.finetune.api.finetune(cfg)` is the Python entry point; `llava-cli finetune` wraps it. What it
writes (a full checkpoint, or a LoRA adapter folder) loads straight back into classify with
`--model` or `--adapter`.
"""
