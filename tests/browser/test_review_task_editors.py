"""The review app's keypoint and oriented-box editors in a real headless Chromium, with the real
mouse: a case of the shipped pose and obb suites, a keypoint dragged and its visibility clicked, a
pose object's box moved with its keypoints, an oriented box moved, resized and turned, each written
to the file on that object's lines.

The docs' screenshot of the editors (docs/review-tasks.png) is taken here with SCREENSHOTS=1.
"""

from __future__ import annotations

import math
import os
import re
import shutil

import pytest
import test_review_app
from test_review_app import App, changed

from conftest import ALLOW_OUTSIDE_ROOT, FIXTURES, ROOT, review_app, shipped_suite

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
browser = test_review_app.browser  # the same Chromium fixture (skipped locally without it, failing in CI)


def one_case(tmp_path, suite: str, case: str, image: str):
    """One case of a shipped suite, its image beside it (the app serves nothing outside the project)."""
    text = shipped_suite(suite)
    blocks = text.split("  - name: ")
    text = blocks[0] + "".join("  - name: " + b for b in blocks[1:] if b.startswith(f"{case}\n"))
    shutil.copy(FIXTURES / "images" / f"{image}.png", tmp_path / f"{image}.png")
    text = text.replace(f"{FIXTURES}/images/{image}.png", f"{image}.png")
    (tmp_path / "pytest.ini").write_text(ALLOW_OUTSIDE_ROOT)  # the models are the repository's
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    return path


def numbers(line: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", line)]


def test_a_keypoint_is_dragged_and_its_visibility_clicked(browser, tmp_path):
    path = one_case(tmp_path, "shapes-pose.yaml", "arrows-001", "pose-golden-001")
    original = path.read_text()
    with review_app(path) as (url, _, _):
        app = App(browser, url)
        app.click_object(1)
        assert app.page.locator("#handles [data-keypoint]").count() == 4
        assert app.page.inner_text("#objects-table tr:nth-child(1)").split("\t")[3] == "OKS"
        tip = app.object(1)["keypoints"][0]
        app.drag(app.screen(tip[0], tip[1]), app.screen(tip[0] - 8, tip[1] - 6))
        after_drag = path.read_text()
        old, new = changed(original, after_drag)
        assert len(old) == 1 and len(new) == 1 and "keypoints: [[" in new[0]
        assert original.splitlines()[old[0] - 1] == "        keypoints: " + (
            "[[89.97, 202.41, 2], [63.65, 161.49, 2], [44.94, 183.99, 2], [63.5, 180.39, 2]]"
        )
        values = numbers(new[0])
        assert values[:2] == pytest.approx([tip[0] - 8, tip[1] - 6], abs=0.6)
        assert values[2:] == [2, 63.65, 161.49, 2, 44.94, 183.99, 2, 63.5, 180.39, 2]

        # A click without moving: the left barb becomes occluded (v 1).
        app.page.mouse.click(*app.centre("#handles [data-keypoint='1']"))
        app.edited()
        assert "[63.65, 161.49, 1]" in path.read_text()
        assert changed(after_drag, path.read_text())[0] == old
        if os.environ.get("SCREENSHOTS"):
            shot_of(app, 1)
        app.press("Control+z")
        assert path.read_text() == after_drag

        # An edit that does not fit the file (as a stale page or a bug would send it): one line, shown.
        app.page.evaluate("() => edit({op: 'keypoints', index: 0, keypoints: [[1, 2, 2]]})")
        assert app.message() == "keypoints: 1 given, but the file's keypoints: block has 4"
        assert app.page.locator("#message.error").is_visible()
        assert path.read_text() == after_drag
        drag_the_box_with_its_keypoints(app, path, after_drag)
        app.close()


# The image point inside object 1's box where a press lands on the box itself (not a keypoint, a bone
# or a label), the farthest such point from its keypoints on a grid.
INSIDE = """(box) => {
  const svg = document.querySelector('#overlay'); const p = svg.createSVGPoint(); let best = null;
  for (let i = 1; i < 10; i++) for (let j = 1; j < 10; j++) {
    p.x = box[0] + (box[2] - box[0]) * i / 10; p.y = box[1] + (box[3] - box[1]) * j / 10;
    const q = p.matrixTransform(svg.getScreenCTM());
    if (document.elementFromPoint(q.x, q.y)?.dataset.index !== '1') continue;
    const gap = Math.min(...state.detail.objects[1].keypoints.map(([x, y]) => Math.hypot(x - p.x, y - p.y)));
    if (!best || gap > best[2]) best = [p.x, p.y, gap];
  }
  return best;
}"""


def drag_the_box_with_its_keypoints(app: App, path, before: str) -> None:
    """A whole-box move of a pose object: box and every keypoint by one offset, one edit, one undo."""
    box = app.object(1)["box"]
    x, y, _ = app.page.evaluate(INSIDE, box)
    app.drag(app.screen(x, y), app.screen(x + 7, y - 5))
    assert app.message().endswith("arrows-001: objects[1].box, objects[1].keypoints")
    old, new = changed(before, path.read_text())
    assert len(old) == 2 and new[0].strip().startswith("box: [") and new[1].strip().startswith("keypoints: [[")
    was_box, was_points = (numbers(before.splitlines()[n - 1]) for n in old)
    now_box, now_points = numbers(new[0]), numbers(new[1])
    dx, dy = now_box[0] - was_box[0], now_box[1] - was_box[1]
    assert (dx, dy) == pytest.approx((7, -5), abs=0.6)
    assert now_box == pytest.approx([v + (dy if k % 2 else dx) for k, v in enumerate(was_box)], abs=0.011)
    assert len(now_points) == len(was_points) == 12
    for k in range(0, 12, 3):
        assert now_points[k : k + 2] == pytest.approx([was_points[k] + dx, was_points[k + 1] + dy], abs=0.011)
        assert now_points[k + 2] == was_points[k + 2]
    app.press("Control+z")
    assert path.read_text() == before

    # Dragged far left: the move is held where its leftmost point, a labelled keypoint, meets x 0.
    leftmost = min(min(was_box[0], was_box[2]), *(was_points[k] for k in range(0, 12, 3) if was_points[k + 2]))
    app.drag(app.screen(x, y), app.screen(x - leftmost - 30, y))
    now_box, now_points = (numbers(line) for line in changed(before, path.read_text())[1])
    assert now_box == pytest.approx([was_box[0] - leftmost, was_box[1], was_box[2] - leftmost, was_box[3]], abs=0.011)
    assert min(now_points[k] for k in range(0, 12, 3)) == 0
    app.press("Control+z")
    assert path.read_text() == before


def shot_of(app: App, index: int) -> None:
    """The docs' picture: object ``index`` selected, at 3x, with room for its label."""
    app.page.evaluate("() => setZoom(3)")
    x1, y1, x2, y2 = app.object(index)["box"]
    (left, top), (right, bottom) = app.screen(x1 - 12, y1 - 20), app.screen(x2 + 40, y2 + 10)
    clip = {"x": left, "y": top, "width": right - left, "height": bottom - top}
    app.page.screenshot(path=ROOT / "docs" / "review-tasks.png", clip=clip)
    app.page.evaluate("() => setZoom(null)")


def corners(text: str, index: int) -> list[list[float]]:
    line = [line for line in text.splitlines() if line.strip().startswith("obb: [[")][index]
    values = numbers(line)
    return [values[i : i + 2] for i in range(0, 8, 2)]


def test_an_oriented_box_is_moved_resized_and_turned(browser, tmp_path):
    path = one_case(tmp_path, "shapes-obb.yaml", "obb-001", "obb-golden-001")
    original = path.read_text()
    start = corners(original, 0)
    centre = [sum(p[0] for p in start) / 4, sum(p[1] for p in start) / 4]
    with review_app(path) as (url, _, _):
        app = App(browser, url)
        app.page.mouse.click(*app.screen(*centre))  # inside the turned box, not its bounds' corner
        app.page.wait_for_selector("#handles [data-corner]")
        assert app.page.locator("#handles [data-handle]").count() == 0  # no axis-aligned handles
        assert app.page.inner_text("#objects-table tr:nth-child(1)").split("\t")[2] == "obb IoU"
        assert re.match(r"0\.\d{3} >= 0\.50", app.page.inner_text("#objects-table tr:nth-child(2)").split("\t")[2])

        app.drag(app.screen(*centre), app.screen(centre[0] + 10, centre[1] + 5))
        moved = corners(path.read_text(), 0)
        assert flat(moved) == pytest.approx(flat([[x + 10, y + 5] for x, y in start]), abs=0.6)
        assert corners(path.read_text(), 1) == corners(original, 1)  # the other objects stay

        # Corner 0 pulled outwards: the opposite corner stays, and it is still a rectangle.
        app.drag(app.centre("#handles [data-corner='0']"), app.screen(moved[0][0] + 6, moved[0][1] - 4))
        resized = corners(path.read_text(), 0)
        assert resized[2] == pytest.approx(moved[2], abs=0.02) and resized[0] != moved[0]
        assert side(resized, 0) > side(moved, 0) and cosine(resized) == pytest.approx(0, abs=0.01)

        # The round handle swept a quarter turn about the centre: sides kept, centre kept.
        mid = [sum(p[0] for p in resized) / 4, sum(p[1] for p in resized) / 4]
        handle = app.page.evaluate(
            "() => ['cx', 'cy'].map((a) => Number(document.querySelector('#handles [data-rotate]').getAttribute(a)))"
        )
        turned_to = [mid[0] - (handle[1] - mid[1]), mid[1] + (handle[0] - mid[0])]  # 90 degrees on
        app.drag(app.screen(*handle), app.screen(*turned_to))
        turned = corners(path.read_text(), 0)
        assert side(turned, 0) == pytest.approx(side(resized, 0), abs=0.1)
        assert [sum(p[0] for p in turned) / 4, sum(p[1] for p in turned) / 4] == pytest.approx(mid, abs=0.1)
        edge = [turned[1][0] - turned[0][0], turned[1][1] - turned[0][1]]
        before = [resized[1][0] - resized[0][0], resized[1][1] - resized[0][1]]
        angle = math.degrees(math.atan2(edge[1], edge[0]) - math.atan2(before[1], before[0])) % 360
        assert angle == pytest.approx(90, abs=3)
        old, new = changed(original, path.read_text())
        assert len(old) == len(new) == 1 and new[0].startswith("        obb: [[")
        app.close()


def flat(points: list[list[float]]) -> list[float]:
    return [v for point in points for v in point]


def side(box: list[list[float]], k: int) -> float:
    return math.dist(box[k], box[(k + 1) % 4])


def cosine(box: list[list[float]]) -> float:
    """The cosine of the angle at corner 0: 0 for a rectangle."""
    a = [box[1][0] - box[0][0], box[1][1] - box[0][1]]
    b = [box[3][0] - box[0][0], box[3][1] - box[0][1]]
    return (a[0] * b[0] + a[1] * b[1]) / (math.hypot(*a) * math.hypot(*b))
