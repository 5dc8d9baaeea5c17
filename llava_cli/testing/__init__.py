"""Test-only helpers: tiny offline checkpoints that behave like the published llava-hf families.

Used by tests, examples and benchmarks; production code (llava_cli.*, finetune.*) must never import
this package. `tokenizers` builds SentencePiece-like and byte-level BPE tokenizers, `families`
builds one tiny checkpoint per family (FAMILIES, build_family, load_processor).
"""
