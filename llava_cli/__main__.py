"""`python -m llava_cli ...` (the form `accelerate launch -m llava_cli` uses)."""

from .cli import main

main()
