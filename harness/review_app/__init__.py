"""Layer 7, review_app: the third front door, beside ``cli`` and ``pytest_plugin``: a local web
app to review and correct golden cases on their pictures (``vision-harness review CASES.yaml --serve``).

``workspace`` is the API (cases and verdicts as JSON, edits written through the round-trip editor,
undo), ``edits`` the editing operations, ``views`` the JSON the page draws, ``server`` the HTTP side
(Starlette and uvicorn, the optional ``review`` extra) with its token, and ``static/`` the page itself
(plain JavaScript and SVG, nothing loaded from the network). Judging, the prediction cache, loading and
writing case files and the review flag come from the layers below; this package adds none of its own.
"""
