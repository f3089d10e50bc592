"""The review app's HTTP side: Starlette routes over a ``Workspace``, served by uvicorn on 127.0.0.1.

Safe by default: every address starts with a random token (``/TOKEN/...``) printed at start, and a
request without it is refused (403), as is one whose Host header is not this loopback address (DNS
rebinding) and a POST that is not JSON (a cross-site form). Only the app's own files, the images of
the named case files' cases (by file number and case name, never by path) and the API are served; a
case image outside the root is refused. A strict Content-Security-Policy keeps the page from
loading anything from elsewhere.
"""

from __future__ import annotations

import secrets
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from harness.casefile.edit import StaleFileError
from harness.core.errors import CaseFileError, HarnessError
from harness.core.paths import find_rootdir, harness_cache_folder
from harness.review_app.edits import EditError
from harness.review_app.workspace import Workspace

STATIC = Path(__file__).with_name("static")
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "Referrer-Policy": "no-referrer",  # the token is in every address
    "X-Content-Type-Options": "nosniff",
}
# The API never from a cache (a case file changes); images and the page's files may be (prefetched for paging).
NO_STORE, KEEP = b"no-store", b"private, max-age=300"
REFUSED = "refused: this address needs the token printed when `vision-harness review --serve` started\n"


def create_app(workspace: Workspace, token: str, port: int) -> ASGIApp:
    """The ASGI app: the routes under ``/TOKEN/``, behind the token and host checks."""

    def api(method: Callable[[Request, Any], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                data = await request.json() if request.method == "POST" else None
            except ValueError:
                return JSONResponse({"error": "the request body is not JSON"}, status_code=400)
            try:
                # The workspace loads files and runs models: in a worker thread, not the event loop.
                return JSONResponse(await run_in_threadpool(method, request, data))
            except StaleFileError as exc:
                return JSONResponse({"error": str(exc), "stale": True}, status_code=409)
            except (EditError, CaseFileError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except HarnessError as exc:
                return JSONResponse({"error": str(exc)}, status_code=500)

        return endpoint

    def case_args(request: Request) -> tuple[int, str]:
        return int(request.path_params["file"]), request.path_params["name"]

    def edit(_: Request, data: Any) -> Any:
        data = data if isinstance(data, dict) else {}
        return workspace.edit(data.get("file"), str(data.get("case")), str(data.get("sha256")), data.get("op") or {})

    def reviewed(_: Request, data: Any) -> Any:
        data = data if isinstance(data, dict) else {}
        return workspace.mark_all_reviewed(data.get("items") or [], data.get("sha256") or {})

    async def image(request: Request) -> Response:
        try:
            return FileResponse(await run_in_threadpool(workspace.image, *case_args(request)))
        except CaseFileError as exc:
            return PlainTextResponse(str(exc) + "\n", status_code=403)

    routes = [
        Route("/", lambda _: FileResponse(STATIC / "index.html")),
        Route("/api/cases", api(lambda _, __: workspace.listing())),
        Route("/api/case/{file:int}/{name}", api(lambda r, _: workspace.case(*case_args(r)))),
        Route("/api/verdict/{file:int}/{name}", api(lambda r, _: workspace.verdict(*case_args(r)))),
        Route("/api/judge", api(lambda _, __: workspace.judge_all()), methods=["POST"]),
        Route("/api/edit", api(edit), methods=["POST"]),
        Route("/api/undo", api(lambda _, __: workspace.undo()), methods=["POST"]),
        Route("/api/reviewed", api(reviewed), methods=["POST"]),
        Route("/image/{file:int}/{name}", image),
        Mount("/static", StaticFiles(directory=STATIC)),
    ]
    app = Starlette(routes=[Mount(f"/{token}", routes=routes)])
    return _Guard(app, token, port)


class _Guard:
    """ASGI middleware: refuses (403) what is not for this app, and adds the security headers."""

    def __init__(self, app: ASGIApp, token: str, port: int):
        self.app = app
        self.prefix = f"/{token}/".encode()
        self.hosts = {f"{host}:{port}".encode() for host in ("127.0.0.1", "localhost")}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        path = scope.get("raw_path") or scope["path"].encode()
        reason = None
        if not secrets.compare_digest(path[: len(self.prefix)], self.prefix):
            reason = REFUSED
        elif headers.get(b"host") not in self.hosts:
            reason = "refused: the app answers only to 127.0.0.1 and localhost\n"
        elif scope["method"] == "POST" and not headers.get(b"content-type", b"").startswith(b"application/json"):
            reason = "refused: the API takes JSON only\n"
        if reason is not None:
            await PlainTextResponse(reason, status_code=403, headers=HEADERS)(scope, receive, send)
            return

        keep = path.startswith((self.prefix + b"image/", self.prefix + b"static/"))

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] += [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
                message["headers"].append((b"cache-control", KEEP if keep else NO_STORE))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def serve(workspace: Workspace, *, port: int = 0, open_browser: bool = True, out=None) -> int:
    """Serve ``workspace`` on 127.0.0.1 until interrupted; prints the address (with its token)."""
    out = out or sys.stdout
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", port))
    except OSError as exc:
        raise HarnessError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}; choose another --port") from None
    listener.listen(64)  # the browser may ask before the server loop runs: its request waits here
    port = listener.getsockname()[1]
    token = secrets.token_urlsafe(24)
    url = f"http://127.0.0.1:{port}/{token}/"
    print(f"vision-harness review: {url}  (Ctrl+C to stop)", file=out, flush=True)
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    config = uvicorn.Config(create_app(workspace, token, port), log_level="warning", lifespan="off")
    uvicorn.Server(config).run(sockets=[listener])
    return 0


def review_app(
    paths: list[Path],
    *,
    port: int = 0,
    open_browser: bool = True,
    record: Path | None = None,
    model: str | None = None,
    device: str | None = None,
    out=None,
) -> int:
    """``vision-harness review CASES.yaml... --serve``: the app over these case files, with the root
    and the prediction cache pytest would use for them."""
    root = find_rootdir(paths)
    workspace = Workspace(
        paths, root=root, cache_folder=harness_cache_folder(root), model=model, device=device, record=record
    )
    # Loaded while the browser fetches the page and its script; the page's first request waits for it.
    threading.Thread(target=workspace.listing, name="review-load", daemon=True).start()
    return serve(workspace, port=port, open_browser=open_browser, out=out)
