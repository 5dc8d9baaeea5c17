"""`llava-cli review`: look at what classify decided and correct it, in a browser or from Python.

The logic (rows, order, filters, decisions, summary, video timelines) is `ReviewSession`; the web
server (`ReviewServer`, Starlette + uvicorn) and the page (`static/`) only show it.

>>> from llava_cli.review import ReviewSession, Query
>>> s = ReviewSession("plays.csv")                 # decisions go to plays.review.csv
>>> first = s.list_rows(Query(status="unreviewed"))[0]   # the least confident row not yet reviewed
>>> s.decide(first.id, "passing")
"""

from .state import (
    UNSURE,
    Decision,
    Query,
    ReviewSession,
    Row,
    Summary,
    Timeline,
    log_path_for,
    read_review_csv,
    review_path_for,
    thumbs_path_for,
)

__all__ = [
    "UNSURE",
    "Decision",
    "Query",
    "ReviewSession",
    "Row",
    "Summary",
    "Timeline",
    "log_path_for",
    "read_review_csv",
    "review_path_for",
    "thumbs_path_for",
]
