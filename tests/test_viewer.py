"""``workprint view``: the JSON/image endpoints, token enforcement, the loopback bind, and
the page itself in a real headless Chromium (Debian's /usr/bin/chromium via Playwright)."""

import io
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from workprint.events import FocusEvent, MarkerEvent, ScrollEvent
from workprint.viewer.server import cookie_name, create_app

from evgen import Stream
from storegen import make_session, screen_image

SID = "20260101-090000-abcdef"
TOKEN = "test-token-0123456789abcdef"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """One session: a labelled task (click, write, scroll, hotkey, drag) and unlabelled
    work afterwards (click, Return)."""
    root = tmp_path_factory.mktemp("viewdata")
    s = Stream(t0_ms=10_000)
    frames = [(s.t, screen_image("desktop"))]
    s.add(FocusEvent(s.at(100), 4242, "report.txt - Editor", "Editor", pid=777))
    s.add(MarkerEvent(s.at(100), "task_start", text="Write a greeting and save it"))
    s.move(400, 300).move(480, 420)
    frames.append((s.at(50), screen_image("editor")))
    s.at(700)
    s.click(500, 500)
    frames.append((s.at(300), screen_image("editor-focused")))
    s.at(800)
    s.type("Hi it's me", dt=90)
    for _ in range(3):
        s.add(ScrollEvent(s.at(40), 900, 600, 0, -1))
    s.chord("ctrl", "s")
    frames.append((s.at(400), screen_image("saved")))
    s.move(90, 90).move(100, 100)
    s.down(100, 100, dt=900).move(150, 150).up(300, 200)
    frames.append((s.at(200), screen_image("dragged")))
    s.add(MarkerEvent(s.at(500), "task_end", ok=True))
    s.add(FocusEvent(s.at(600), 99, "Terminal", "XTerm"))
    s.click(1700, 900, dt=2000).key("Return", "\r")
    frames.append((s.at(300), screen_image("after")))
    make_session(root, s.events, frames, session_id=SID)
    return root


@pytest.fixture()
def client(data_dir):
    with TestClient(create_app(data_dir, TOKEN), base_url="http://127.0.0.1") as c:
        yield c


def get(client, path, **kw):
    return client.get(path, params={"token": TOKEN}, **kw)


# --- token ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/static/viewer.js", "/api/sessions",
                                  f"/api/sessions/{SID}/episodes",
                                  f"/api/sessions/{SID}/episodes/0",
                                  f"/api/sessions/{SID}/frames/{'0' * 32}.png"])
def test_every_route_needs_the_token(client, path):
    assert client.get(path).status_code == 403
    assert client.get(path, params={"token": "wrong"}).status_code == 403
    assert client.get(path, params={"token": TOKEN[:-1]}).status_code == 403
    assert client.get(path, headers={"x-workprint-token": "nope"}).status_code == 403
    client.cookies.set(cookie_name(TOKEN), "nope")
    assert client.get(path).status_code == 403
    client.cookies.clear()
    assert client.post(f"/api/sessions/{SID}/review", json={"decision": "approved"}).status_code == 403


def test_query_token_sets_cookie_that_then_suffices(client):
    r = get(client, "/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    set_cookie = r.headers["set-cookie"]
    assert cookie_name(TOKEN) in set_cookie and "httponly" in set_cookie.lower()
    assert "samesite=strict" in set_cookie.lower()
    # no ?token= now: the cookie alone is accepted
    assert client.get("/api/sessions").status_code == 200
    client.cookies.clear()
    assert client.get("/api/sessions").status_code == 403


def test_page_is_self_contained(client):
    html = get(client, "/").text
    # no CDN, nothing remote: the only absolute URL is the SVG namespace
    assert re.findall(r"https?://[^\s\"']+", html) == ["http://www.w3.org/2000/svg"]
    assert f"static/viewer.js?token={TOKEN}" in html
    js = get(client, "/static/viewer.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert re.findall(r"https?://[^\s\"']+", js.text) == ["http://www.w3.org/2000/svg"]
    assert get(client, "/static/../server.py").status_code == 404
    assert get(client, "/static/nothing.js").status_code == 404


# --- JSON -----------------------------------------------------------------------------
def test_sessions(client):
    [s] = get(client, "/api/sessions").json()
    assert s["id"] == SID and s["review"] is None and s["state"] == "complete"
    assert s["apps"] == ["Editor", "XTerm"] and s["frames"] == 6
    assert "path" not in s


def test_episodes(client):
    eps = get(client, f"/api/sessions/{SID}/episodes").json()
    assert [(e["index"], e["instruction"], e["unlabelled"], e["status"], e["n_steps"]) for e in eps] == [
        (0, "Write a greeting and save it", False, "success", 6),
        (1, "", True, "unknown", 3)]
    assert eps[0]["screen"] == {"width": 1920, "height": 1080, "scale": 1.0}
    assert "steps" not in eps[0]


def test_steps_of_an_episode(client):
    ep = get(client, f"/api/sessions/{SID}/episodes/0").json()
    steps = ep["steps"]
    assert steps == get(client, f"/api/sessions/{SID}/episodes/0/steps").json()
    assert [s["kind"] for s in steps] == ["click", "write", "scroll", "hotkey", "drag", "end"]
    assert [s["index"] for s in steps] == list(range(6))
    click, write, scroll, hotkey, drag, end = steps
    assert (click["action"]["x"], click["action"]["y"]) == (500, 500)
    assert click["path"] == [[400, 300], [480, 420]]
    assert click["code"] == "pyautogui.click(x=0.2604, y=0.4630)"
    assert write["label"] == write["action"]["text"] == "Hi it's me"
    assert scroll["action"]["dy"] == -3 and scroll["label"] == "scroll -3"
    assert hotkey["label"] == "ctrl+s"
    a = drag["action"]
    assert (a["x"], a["y"], a["x2"], a["y2"]) == (100, 100, 300, 200)
    assert drag["path"] == [[90, 90], [100, 100]]
    assert end["label"] == "end: success" and end["frame"] is not None
    assert {(s["app"], s["title"]) for s in steps} == {("Editor", "report.txt - Editor")}
    assert all(s["frame"] and s["frame"]["width"] == 1920 for s in steps)
    assert click["t_ms"] == 0 and write["t_ms"] > click["t_ms"]
    ep1 = get(client, f"/api/sessions/{SID}/episodes/1").json()
    assert [(s["kind"], s["app"]) for s in ep1["steps"]] == [
        ("click", "XTerm"), ("press", "XTerm"), ("end", "XTerm")]


def test_keyframe_images(client):
    steps = get(client, f"/api/sessions/{SID}/episodes/0").json()["steps"]
    url = f"/api/sessions/{SID}/frames/{steps[0]['frame']['id']}"
    png = get(client, url + ".png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    # the click is shown on the screen before it: "editor", pixel for pixel
    assert Image.open(io.BytesIO(png.content)).convert("RGB").tobytes() == screen_image("editor").tobytes()
    jpg = get(client, url + ".jpg")
    assert jpg.status_code == 200 and jpg.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(jpg.content)).size == (1920, 1080)
    # typing sees the result of the click
    typed = get(client, f"/api/sessions/{SID}/frames/{steps[1]['frame']['id']}.png").content
    assert Image.open(io.BytesIO(typed)).convert("RGB").tobytes() == screen_image("editor-focused").tobytes()


def test_not_found(client):
    assert get(client, "/api/sessions/nope/episodes").status_code == 404
    assert get(client, f"/api/sessions/{SID[:8]}/episodes").status_code == 404  # no prefixes
    assert get(client, "/api/sessions/..%2F..%2Fetc/episodes").status_code == 404
    assert get(client, f"/api/sessions/{SID}/episodes/2").status_code == 404
    assert get(client, f"/api/sessions/{SID}/frames/{'a' * 32}.png").status_code == 404
    assert get(client, f"/api/sessions/{SID}/frames/..%2Fx.png").status_code == 404
    assert get(client, f"/api/sessions/{SID}/frames/{'a' * 32}.gif").status_code == 404


def test_review_decision(data_dir, tmp_path):
    data_dir = shutil.copytree(data_dir, tmp_path / "data")   # decisions stay out of the shared store
    client = TestClient(create_app(data_dir, TOKEN), base_url="http://127.0.0.1")
    p = f"/api/sessions/{SID}/review"
    assert client.post(p, params={"token": TOKEN}, json={"decision": "maybe"}).status_code == 400
    assert client.post("/api/sessions/nope/review", params={"token": TOKEN},
                       json={"decision": "approved"}).status_code == 404
    r = client.post(p, params={"token": TOKEN}, json={"decision": "approved"})
    assert r.status_code == 200
    assert get(client, "/api/sessions").json()[0]["review"] == "approved"
    from workprint.sync.review import Review
    rv = Review(data_dir)
    try:
        assert rv.decisions() == {SID: "approved"}
    finally:
        rv.close()
    client.post(p, params={"token": TOKEN}, json={"decision": "withheld"})
    assert get(client, "/api/sessions").json()[0]["review"] == "withheld"


# --- the command: loopback, random port, URL last ----------------------------------------
class Viewer:
    def __init__(self, data_dir: Path):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workprint.cli", "view", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + 30
        while b"http://" not in buf or not buf.endswith(b"\n"):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                break
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buf += chunk
        self.lines = buf.decode().splitlines()
        if not self.lines or not self.lines[-1].startswith("http://"):
            self.stop()
            raise AssertionError(f"viewer did not print its URL last: {self.lines}")
        self.url = self.lines[-1]
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname, parts.port
        self.token = parse_qs(parts.query)["token"][0]
        self.base = f"http://{self.host}:{self.port}"

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode


@pytest.fixture()
def viewer(data_dir):
    v = Viewer(data_dir)
    yield v
    v.stop()


def _listening(port: int) -> list[str]:
    """Local addresses (hex, as in /proc/net/tcp*) listening on ``port``."""
    out = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            addr, p = local.rsplit(":", 1)
            if int(p, 16) == port and state == "0A":   # LISTEN
                out.append(addr)
    return out


def _own_ip() -> str | None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 1))   # UDP connect sends nothing; picks the route's source
        ip = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if ip.startswith("127.") else ip


def test_command_serves_on_loopback_only(viewer):
    assert viewer.host == "127.0.0.1" and viewer.port > 0
    assert len(viewer.token) >= 24
    assert _listening(viewer.port) == ["0100007F"]          # 127.0.0.1, nothing else
    r = httpx.get(viewer.base + "/api/sessions", params={"token": viewer.token}, timeout=10)
    assert r.status_code == 200 and r.json()[0]["id"] == SID
    assert httpx.get(viewer.base + "/api/sessions", timeout=10).status_code == 403
    ip = _own_ip()
    if ip is not None:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://{ip}:{viewer.port}/", timeout=5)
    assert viewer.stop() in (0, 130)


def test_two_viewers_get_different_ports_and_tokens(data_dir):
    a = Viewer(data_dir)
    try:
        b = Viewer(data_dir)
        try:
            assert a.port != b.port and a.token != b.token
            assert httpx.get(b.base + "/api/sessions", params={"token": a.token}, timeout=10).status_code == 403
        finally:
            b.stop()
    finally:
        a.stop()


# --- the page in a real browser ----------------------------------------------------------
def _rect(page, selector):
    return page.eval_on_selector(selector, "e => { const r = e.getBoundingClientRect(); "
                                           "return {x: r.x, y: r.y, w: r.width, h: r.height}; }")


def test_page_in_headless_chromium(viewer, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    frames_loaded: list[tuple[int, str]] = []

    def on_response(r):
        if r.status >= 400:
            problems.append(f"{r.status} {r.url}")
        if "/frames/" in r.url:
            frames_loaded.append((r.status, r.headers.get("content-type", "")))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("response", on_response)
            page.goto(viewer.url)
            page.wait_for_selector("body[data-ready='1']", timeout=20_000)

            # the timeline of the labelled episode: 5 actions + the final step
            assert page.locator("#timeline .tick").count() == 6
            assert page.inner_text("#instruction") == "Write a greeting and save it"
            assert page.inner_text("#app") == "Editor"
            assert "report.txt - Editor" in page.inner_text("#title")

            # step to the write step and back to the click with the keyboard and buttons
            page.keyboard.press("ArrowRight")
            assert page.inner_text("#kind") == "write"
            assert page.inner_text("#typed") == "Hi it's me"
            assert page.locator("#marker-dot").count() == 0
            page.click("#prev")
            assert page.inner_text("#kind") == "click"
            assert page.inner_text("#pos") == "step 1 / 6"
            assert "active" in page.get_attribute("#timeline .tick:nth-child(1)", "class")

            # the click marker sits at (500, 500) of 1920x1080, scaled to the displayed image
            img = _rect(page, "#frame")
            assert 300 < img["w"] < 1920                       # really scaled down
            assert abs(img["w"] / img["h"] - 1920 / 1080) < 0.01
            dot = _rect(page, "#marker-dot")
            cx, cy = dot["x"] + dot["w"] / 2, dot["y"] + dot["h"] / 2
            ex, ey = img["x"] + 500 * img["w"] / 1920, img["y"] + 500 * img["h"] / 1080
            assert abs(cx - ex) < 1.5 and abs(cy - ey) < 1.5, (cx, cy, ex, ey)
            assert page.locator("#approach").count() == 1   # approach path drawn
            click_img, click_center = img, (cx, cy)

            shot = tmp_path / "click.png"
            page.wait_for_function("() => document.querySelector('#frame').getAttribute('href')")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(shot))

            # the drag: line from (100,100) to (300,200)
            page.keyboard.press("End")
            page.keyboard.press("ArrowLeft")
            assert page.inner_text("#kind") == "drag"
            line = page.eval_on_selector("#drag", "e => [e.x1, e.y1, e.x2, e.y2].map(a => a.baseVal.value)")
            assert line == [100, 100, 300, 200]
            page.keyboard.press("ArrowLeft")
            assert page.inner_text("#keys") == "ctrl + s"

            # next episode: unlabelled, 3 steps, another app
            page.keyboard.press("ArrowDown")
            page.wait_for_function("() => document.querySelectorAll('#timeline .tick').length === 3")
            assert page.inner_text("#app") == "XTerm"
            dot = _rect(page, "#marker-dot")
            img = _rect(page, "#frame")
            assert abs(dot["x"] + dot["w"] / 2 - (img["x"] + 1700 * img["w"] / 1920)) < 1.5
            page.click("#timeline .tick:nth-child(2)")
            assert page.inner_text("#keys") == "enter"
        finally:
            browser.close()

    assert problems == []
    assert frames_loaded and all(s == 200 and ct == "image/jpeg" for s, ct in frames_loaded)

    # the screenshot: not blank, keyframe visible, red marker where it should be
    im = Image.open(shot).convert("RGB")
    assert im.size == (1280, 800)
    px = np.asarray(im).astype(int)
    assert px.max() - px.min() > 100 and px.std() > 20
    x0, y0 = int(click_img["x"]), int(click_img["y"])
    x1, y1 = int(click_img["x"] + click_img["w"]), int(click_img["y"] + click_img["h"])
    # inside the keyframe, most pixels are the light grey of the recorded screen
    inner = px[y0 + 40:y1 - 2, x0 + 2:x1 - 2]
    light = ((inner >= 225) & (inner <= 250)).all(axis=2)
    assert light.mean() > 0.6
    # the marker's red ring and cross around the click position (and not elsewhere)
    def red(x, y, r):
        a = px[y - r:y + r + 1, x - r:x + r + 1]
        return int(((a[..., 0] > 180) & (a[..., 1] < 130) & (a[..., 2] < 110)).sum())
    mx, my = (int(v) for v in click_center)
    assert red(mx, my, 20) > 40
    assert red(mx + 80, my + 80, 20) == 0
