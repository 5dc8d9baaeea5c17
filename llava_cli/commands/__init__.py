"""Command registration: each module adds its typer command(s) to the app."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> typer.Typer:
    """Attach every command to `app` (idempotent: tests call it on the shared app)."""
    if getattr(app, "_llava_registered", False):
        return app
    from . import annotate_cmd, chat_cmd, classify_cmd, eval_cmd, finetune_cmd, review_cmd

    classify_cmd.register(app)
    annotate_cmd.register(app)
    chat_cmd.register(app)
    finetune_cmd.register(app)
    eval_cmd.register(app)
    review_cmd.register(app)
    app._llava_registered = True  # type: ignore[attr-defined]
    return app
