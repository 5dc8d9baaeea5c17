"""The review page's HTTP side: the API through Starlette's TestClient, path tricks against the real
uvicorn server (http.client sends paths exactly as written), thumbnails, and the command line."""

from __future__ import annotations

import http.client
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from llava_cli.review import ReviewSession
from llava_cli.review.server import LOOPBACK_HOSTS, ReviewServer, create_app
from review_factories import write_output

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def client(output):
    session = ReviewSession(output)
    return TestClient(create_app(session, allowed_hosts=LOOPBACK_HOSTS + ["testserver"]))


def test_page_and_assets(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/assets/review.js"' in page.text
    texts = [page.text]
    for name, kind in [("review.js", "text/javascript"), ("review.css", "text/css"), ("favicon.svg", "image/svg+xml")]:
        r = client.get(f"/assets/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
        texts.append(r.text.replace('xmlns="http://www.w3.org/2000/svg"', ""))
    assert not any("http://" in t or "https://" in t for t in texts)  # no CDN: everything ships in the package


def test_meta_rows_and_filters(client):
    meta = client.get("/api/meta").json()
    assert meta["labels"] == meta["keys"] == ["red", "blue"]
    assert meta["multi_label"] is False and meta["review"].endswith("plays.review.csv")
    assert meta["summary"]["total"] == 7 and meta["summary"]["errors"] == 1
    rows = client.get("/api/rows").json()["rows"]
    assert [r["id"] for r in rows] == [3, 2, 6, 0, 4, 5, 1]
    assert rows[2] == {"id": 6, "source": "clip.mp4", "name": "clip.mp4", "frame": 20, "timestamp_s": 2.0,
                       "predicted": "blue", "confidence": 0.55, "probs": [0.45, 0.55], "review": None}
    q = client.get("/api/rows", params={"label": "red", "min": "0.55", "sort": "-confidence"}).json()["rows"]
    assert [r["id"] for r in q] == [5, 4, 0]
    bad = client.get("/api/rows", params={"status": "nope"})
    assert bad.status_code == 400 and "status 'nope'" in bad.json()["error"]
    assert client.get("/api/rows", params={"min": "abc"}).status_code == 400
    assert client.get("/api/errors").json()["errors"] == [
        {"id": 7, "source": "bad.jpg", "frame": None, "error": "bad.jpg: not a readable image"}]
    [tl] = client.get("/api/timelines").json()["timelines"]
    assert [s["label"] for s in tl["segments"]] == ["red", "blue"]


def test_decisions_and_undo(client, output):
    r = client.post("/api/decision", json={"id": 2, "label": "blue"})
    assert r.status_code == 200
    body = r.json()
    assert body["row"]["review"]["label"] == "blue" and body["row"]["review"]["changed"] is True
    assert body["summary"]["reviewed"] == 1 and body["version"] == 1
    assert client.post("/api/decision", json={"id": 1, "action": "accept"}).json()["row"]["review"]["changed"] is False
    assert client.post("/api/decision", json={"id": 0, "action": "unsure"}).json()["summary"]["unsure"] == 1
    assert [line.split(",")[2] for line in output.with_name("plays.review.csv").read_text().splitlines()[1:]] == [
        "unsure", "blue", "blue"]
    undo = client.post("/api/undo", json={}).json()
    assert undo["undone"] is True and undo["row"]["id"] == 0 and undo["row"]["review"] is None
    assert undo["summary"]["reviewed"] == 2 and undo["version"] == 4
    # refused, and nothing written
    for body, fragment in [({"id": 2, "label": "green"}, "unknown label"), ({"id": 7, "label": "red"}, "no reviewable row"),
                           ({"id": "2", "label": "red"}, "'id'"), ({"id": 2}, "send"), ({"id": True, "label": "red"}, "'id'")]:
        r = client.post("/api/decision", json=body)
        assert r.status_code == 400 and fragment in r.json()["error"], body
    assert client.post("/api/decision", content=b"id=2&label=red", headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 415
    assert client.post("/api/decision", content=b"{oops", headers=JSON).status_code == 400
    cross = client.post("/api/decision", json={"id": 2, "label": "red"}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    assert client.get("/api/decision").status_code == 405
    assert client.get("/api/summary").json()["version"] == 4


def test_thumbnails_of_images_and_video_frames_are_cached_beside_the_output(client, output):
    thumbs = output.with_name("plays.review.thumbs")
    for row_id, size in [(0, "thumb"), (5, "thumb"), (6, "large"), (4, "thumb")]:
        r = client.get(f"/media/{row_id}/{size}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg", (row_id, size)
        img = Image.open(io.BytesIO(r.content))
        assert img.format == "JPEG"
    # frame 10 of the test video is grey level 80 everywhere (tests/factories.make_video)
    frame10 = np.asarray(Image.open(io.BytesIO(client.get("/media/5/thumb").content)).convert("L"))
    assert abs(frame10.mean() - 80) < 6
    files = sorted(p.name for p in thumbs.iterdir())
    assert len([f for f in files if f.endswith("-thumb.jpg")]) == 4  # img0 + all three frames in one pass
    assert len([f for f in files if f.endswith("-large.jpg")]) == 1
    assert client.get("/media/7/thumb").status_code == 404  # the error row's file is not an image
    os.remove(output.with_name("img3.png"))
    assert client.get("/media/3/thumb").status_code == 404


ESCAPES = [
    "/assets/../state.py", "/assets/..%2fstate.py", "/assets/%2e%2e/state.py", "/assets/%2e%2e%2fserver.py",
    "/assets/static/review.js", "/assets/", "/assets/secret.txt", "/assets/%2Fetc%2Fpasswd",
    "/../plays.csv", "/plays.csv", "/img0.png", "/link.png", "/media/link.png", "/media/0/../../plays.csv",
    "/media/0/%2e%2e%2f%2e%2e%2fplays.csv", "/media/0/thumb/../../../etc/passwd", "/media/-1/thumb",
    "/media/99/thumb", "/media/0/original", "/media/0", "/media/img0.png/thumb", "//etc/passwd", "/etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd", "/static/review.js", "/review.js", "/media/0/thumb%00.png", "/api/../plays.csv",
    "/plays.review.thumbs/", "/plays.review.csv",
]


def test_only_the_page_its_api_and_the_rows_media_are_served(output, tmp_path):
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", tmp_path / "link.png")
    os.symlink("/etc/passwd", tmp_path / "passwd.png")
    with ReviewServer(ReviewSession(output), port=0) as server:
        host, port = server.url.removeprefix("http://").split(":")
        seen = {}
        for path in ESCAPES:
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", path)  # sent as written: no client-side normalising
            response = conn.getresponse()
            body = response.read()
            seen[path] = response.status
            assert b"secret" not in body and b"root:" not in body, path
            conn.close()
        assert all(status == 404 for status in seen.values()), seen
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/api/meta", headers={"Host": "attacker.example:80"})  # DNS rebinding
        assert conn.getresponse().status == 400
        conn.close()
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/media/0/thumb")
        assert conn.getresponse().status == 200


def test_a_row_whose_file_is_a_symlink_is_served_since_the_output_names_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = write_output(tmp_path)
    os.rename(tmp_path / "img1.png", tmp_path / "real.png")
    os.symlink(tmp_path / "real.png", tmp_path / "img1.png")
    client = TestClient(create_app(ReviewSession(out)))
    assert client.get("/media/1/thumb").status_code == 200


def test_media_paths_resolve_from_the_output_folder_too(tmp_path, monkeypatch):
    out = write_output(tmp_path / "run")
    monkeypatch.chdir(tmp_path)  # sources are relative to run/, not to here
    client = TestClient(create_app(ReviewSession(out)))
    assert client.get("/media/0/thumb").status_code == 200


def test_review_command_serves_until_interrupted(output, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "llava_cli", "review", str(output), "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        lines = []
        deadline = time.time() + 120
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("open "):
                break
        assert lines and lines[-1].startswith("open http://127.0.0.1:"), (lines, proc.stderr.read() if proc.poll() is not None else "")
        assert lines[0].startswith(f"reviewing {output}: 7 rows (1 videos), 1 error rows")
        assert lines[1] == f"decisions are saved to {output.with_name('plays.review.csv')}\n"
        url = lines[-1].split()[1]
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("POST", "/api/decision", body=b'{"id": 2, "label": "blue"}', headers=JSON)
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert "reviewed 1/7, changed 1" in out, (out, err)
    assert proc.returncode in (0, 130), err


def test_review_command_errors(cli_app, output, tmp_path):
    from typer.testing import CliRunner

    runner = CliRunner()
    missing = runner.invoke(cli_app, ["review", str(tmp_path / "nope.csv"), "--no-browser"])
    assert missing.exit_code == 1 and "nope.csv: file not found" in missing.output
    with ReviewServer(ReviewSession(output), port=0) as server:
        port = server.url.rsplit(":", 1)[1]
        busy = runner.invoke(cli_app, ["review", str(output), "--port", port, "--no-browser"])
    assert busy.exit_code == 2 and f"--port {port}: cannot listen" in busy.output
    bad_host = runner.invoke(cli_app, ["review", str(output), "--host", "no.such.host.invalid", "--no-browser"])
    assert bad_host.exit_code == 2 and "--host no.such.host.invalid" in bad_host.output
    helped = runner.invoke(cli_app, ["review", "--help"])
    assert all(flag in helped.output for flag in ("--port", "--host", "--no-browser"))
