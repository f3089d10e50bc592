"""The review app's server, started as `vision-harness review --serve` would start it: only requests
carrying the token, for this loopback address, are answered; nothing outside the root is served."""

from __future__ import annotations

import http.client
import json
import shutil
import sys

import pytest

from harness.cli import main as cli

from conftest import FIXTURES, review_app


def request(port: int, path: str, *, method: str = "GET", headers=None, body=None) -> tuple[int, str, dict]:
    """A raw request: the path is sent exactly as given (no client-side normalising of '..')."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.read().decode("utf-8", "replace"), dict(response.getheaders())


@pytest.fixture
def app(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(FIXTURES / "images" / "golden-002.png", project / "scene.png")
    shutil.copy(FIXTURES / "images" / "golden-003.png", tmp_path / "secret.png")  # outside the root
    path = project / "cases.yaml"
    path.write_text(
        "cases:\n"
        "  - name: inside\n    image: scene.png\n    objects: []\n"
        "  - name: outside\n    image: ../secret.png\n    objects: []\n"
    )
    (project / "pytest.ini").write_text("[pytest]\n")
    with review_app(path) as (_, port, token):
        yield port, token


def test_only_requests_with_the_token_are_answered(app):
    port, token = app
    status, body, headers = request(port, f"/{token}/api/cases")
    assert status == 200 and [c["name"] for c in json.loads(body)["cases"]] == ["inside", "outside"]
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    wrong = token[:-1] + ("y" if token.endswith("x") else "x")  # one character off (a token ending in x: 1 in 64)
    for path in ("/", "/api/cases", f"/{wrong}/api/cases", f"/{token}", f"/x/{token}/api/cases", "/favicon.ico"):
        status, body, _ = request(port, path)
        assert status == 403 and "needs the token" in body, path
    status, body, _ = request(port, f"/{token}/api/cases", headers={"Host": f"evil.example:{port}"})
    assert status == 403 and "only to 127.0.0.1" in body  # DNS rebinding
    status, body, _ = request(
        port, f"/{token}/api/undo", method="POST", body="a=1", headers={"Content-Type": "text/plain"}
    )
    assert status == 403 and "JSON only" in body  # a form posted from another site


def test_paths_outside_the_root_are_refused(app):
    port, token = app
    assert request(port, f"/{token}/image/0/inside")[0] == 200
    status, body, _ = request(port, f"/{token}/image/0/outside")
    assert status == 403 and "secret.png is outside the folder the app serves" in body
    assert request(port, f"/{token}/static/app.js")[0] == 200
    for path in ("static/../server.py", "static/%2e%2e/server.py", "static/..%2fserver.py", "static/../../../cli.py"):
        status, body, _ = request(port, f"/{token}/{path}")
        assert status in (403, 404) and "import" not in body, path
    status, body, _ = request(port, f"/{token}/image/0/%2e%2e%2fsecret.png")  # images go by case, never by path
    assert status in (403, 404) and "PNG" not in body


def test_without_the_review_extra_the_command_says_what_to_install(tmp_path, monkeypatch, capsys):
    case_file = tmp_path / "cases.yaml"
    case_file.write_text("cases: []\n")
    monkeypatch.delitem(sys.modules, "harness.review_app.server", raising=False)
    monkeypatch.setitem(sys.modules, "starlette", None)  # as if not installed
    assert cli(["review", str(case_file), "--serve"]) == 2
    assert "the review app needs starlette, which is not installed: pip install 'vision-harness[review]'" in (
        capsys.readouterr().err
    )
