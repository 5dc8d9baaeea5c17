"""`llava-cli review`: serve the review page for a classify output until Ctrl-C."""

from __future__ import annotations

from typing import Annotated

import typer

from ._errors import translate_errors
from .options import examples

EXAMPLES = examples(
    "llava-cli review labels.csv",
    "llava-cli review labels.csv --port 0 --no-browser",
    "llava-cli eval labels.csv --truth labels.review.csv   # score the run against your decisions",
)


def register(app: typer.Typer) -> None:
    """Add the `review` command to `app`."""

    @app.command("review", epilog=EXAMPLES)
    @translate_errors
    def review_command(
        output: Annotated[str, typer.Argument(metavar="OUTPUT", help="A classify output: .csv, .jsonl or .parquet.")],
        port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free one).")] = 8765,
        host: Annotated[str, typer.Option("--host", help="Address to listen on. Anything but a loopback address lets other machines see your media and change the review.")] = "127.0.0.1",
        no_browser: Annotated[bool, typer.Option("--no-browser", help="Print the address only; do not open a browser.")] = False,
    ) -> None:
        """Look at classify's results in a browser and correct them; decisions go to <output>.review.csv.

        Keys: 1-9 set a label, Enter accepts the model's, u marks unsure, z undoes, arrows move,
        Space shows a large view. Every decision is saved at once; rerun to resume.
        """
        import webbrowser

        from ..review import ReviewSession
        from ..review.server import ReviewServer, is_loopback

        session = ReviewSession(output)
        server = ReviewServer(session, host=host, port=port)
        s = session.summary()
        videos = len({r.source for r in session.rows if r.frame is not None})
        typer.echo(
            f"reviewing {session.output}: {s.total} rows ({videos} videos), {s.errors} error rows; "
            f"{s.reviewed} reviewed so far"
        )
        typer.echo(f"decisions are saved to {session.review_path}")
        if not is_loopback(host):
            typer.echo(f"warning: listening on {host}: other machines can see the media and change the review", err=True)
        typer.echo(f"open {server.url}   (Ctrl-C to stop)")
        if not no_browser:
            webbrowser.open(server.url)
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        typer.echo(session.summary().line())
