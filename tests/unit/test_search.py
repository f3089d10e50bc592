"""search: in case files: the grid, the schema, and the search on a synthetic judge; no model runs.

The plugin running searches on the real model is tests/plugin/test_search_items.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from harness.casefile.load import load_case_file
from harness.casefile.schema import BrokenCase, Case
from harness.casefile.search_spec import GRID, SearchRange, SearchSpec, parse_search
from harness.core.errors import CaseFileError
from harness.robustness.search import CaseSearch, Exploration, explore

from conftest import CASES

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# --- the grid ---------------------------------------------------------------------------------------------------


def ranges_of(text: dict) -> tuple[SearchRange, ...]:
    def error(field: str, message: str) -> CaseFileError:
        return CaseFileError("x.yaml", message, field=field)

    parsed = parse_search(text, error)
    assert parsed is not None
    return parsed[0]


def test_each_parameter_is_whole_steps_from_its_identity_value():
    brightness, blur, noise, jpeg = ranges_of(
        {"noise": [0, 30], "jpeg": [10, 100], "brightness": [0.4, 1.6], "blur": [0, 2]}
    )
    assert [r.kind for r in (brightness, blur, noise, jpeg)] == ["brightness", "blur", "noise", "jpeg"]
    assert (brightness.low, brightness.high) == (-12, 12)
    assert brightness.value(-8) == 0.6 and brightness.value(0) == 1.0
    assert (blur.low, blur.high) == (0, 8) and blur.value(3) == 0.75
    assert (noise.low, noise.high) == (0, 30)
    assert (jpeg.low, jpeg.high) == (0, 18) and jpeg.value(0) == 100 and jpeg.value(18) == 10


def test_ends_off_the_grid_keep_the_grid_values_inside_the_range():
    (brightness,) = ranges_of({"brightness": [0.42, 0.58]})
    assert (brightness.value(brightness.low), brightness.value(brightness.high)) == (0.45, 0.55)
    assert brightness.nearest == brightness.high  # the identity 1.0 is outside: shrinking heads for 0.55
    (jpeg,) = ranges_of({"jpeg": [12, 97]})
    assert (jpeg.value(jpeg.low), jpeg.value(jpeg.high)) == (95, 15)


def test_steps_compose_geometric_first_and_the_identity_is_left_out():
    spec = SearchSpec(ranges_of({"noise": [0, 30], "brightness": [0.4, 1.6], "scale": [0.5, 1.5]}))
    assert [r.kind for r in spec.ranges] == ["scale", "brightness", "noise"]
    assert spec.transform((-10, -8, 3)).id == "scale=0.5+brightness=0.6+noise=3"
    assert spec.transform((0, -8, 0)).id == "brightness=0.6"
    assert spec.transform((0, 0, 0)) is None  # the case's own image
    assert spec.describe((0, -8, 0)) == "scale=1, brightness=0.6, noise=0"
    # JPEG at quality 100 still re-encodes the image: it is never left out.
    assert SearchSpec(ranges_of({"jpeg": [50, 100]})).transform((0,)).id == "jpeg=100"
    assert set(GRID) == {"scale", "crop", "pad", "brightness", "contrast", "blur", "noise", "jpeg"}


# --- the search, on a synthetic judge -------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeVerdict:
    passed: bool
    worst_iou: float | None = None
    extras: tuple = ()


def synthetic(spec: SearchSpec, breaks):
    """A judge that fails where ``breaks(values)`` says so, and counts its calls."""
    calls: list[tuple[int, ...]] = []

    def judge(point):
        calls.append(point)
        values = {r.kind: r.value(k) for r, k in zip(spec.ranges, point, strict=True)}
        return FakeVerdict(not breaks(values), worst_iou=1 - sum(abs(k) for k in point) / 100)

    return judge, calls


@pytest.mark.parametrize(
    ("ranges", "rule", "expected"),
    [
        ({"brightness": [0.4, 1.6]}, lambda v: v["brightness"] <= 0.62, "brightness=0.6"),
        ({"noise": [0, 30]}, lambda v: v["noise"] >= 14, "noise=14"),
        ({"brightness": [0.4, 1.6]}, lambda v: v["brightness"] >= 1.33, "brightness=1.35"),
        ({"jpeg": [5, 100]}, lambda v: v["jpeg"] <= 42, "jpeg=40"),
        ({"blur": [0, 4]}, lambda v: v["blur"] > 1.1, "blur=1.25"),
        ({"brightness": [0.2, 0.5]}, lambda v: v["brightness"] <= 0.3, "brightness=0.3"),  # identity outside
        ({"brightness": [0.2, 0.5]}, lambda v: True, "brightness=0.5"),  # everything breaks: the nearest end
    ],
)
def test_a_break_on_one_axis_shrinks_to_exactly_its_boundary_grid_point(ranges, rule, expected):
    spec = SearchSpec(ranges_of(ranges))
    judge, calls = synthetic(spec, rule)
    found = explore(spec.ranges, judge)
    assert found.broke and spec.describe(found.point) == expected
    assert len(calls) == len(set(calls)) == found.images  # each point judged once


def test_two_axes_shrink_to_one_boundary_with_the_other_axis_at_identity_and_the_same_twice():
    spec = SearchSpec(ranges_of({"brightness": [0.4, 1.6], "noise": [0, 30]}))
    results = []
    for _ in range(2):
        judge, calls = synthetic(spec, lambda v: v["brightness"] <= 0.62 or v["noise"] >= 14)
        found = explore(spec.ranges, judge)
        results.append((spec.describe(found.point), spec.describe(found.first), calls))
    assert results[0] == results[1]  # derandomised: the same points, in the same order
    assert results[0][0] in ("brightness=0.6, noise=0", "brightness=1, noise=14")


def test_nothing_breaks_after_exactly_the_examples_and_the_closest_call_is_kept():
    spec = SearchSpec(ranges_of({"brightness": [0.4, 1.6], "noise": [0, 30]}))
    judge, calls = synthetic(spec, lambda v: False)
    found = explore(spec.ranges, judge, examples=7)
    assert not found.broke and found.point is None
    assert found.images == len(calls) == 7
    assert calls[0] == (0, 0)  # hypothesis tries the simplest point, the case's own image, first


def test_shrinking_stops_at_its_budget_and_says_so():
    spec = SearchSpec(ranges_of({"brightness": [0.4, 1.6], "noise": [0, 30], "contrast": [0.2, 1.8]}))
    judge, calls = synthetic(
        spec, lambda v: v["noise"] + 40 * abs(v["brightness"] - 1) + 20 * abs(v["contrast"] - 1) >= 20
    )
    unlimited = explore(spec.ranges, judge)
    assert unlimited.broke and not unlimited.limited
    judge, calls = synthetic(
        spec, lambda v: v["noise"] + 40 * abs(v["brightness"] - 1) + 20 * abs(v["contrast"] - 1) >= 20
    )
    limited = explore(spec.ranges, judge, shrink_images=3)
    assert limited.broke and limited.limited and limited.budget == 3
    assert len(calls) - (calls.index(limited.first) + 1) <= 3  # at most 3 images after the first break
    assert not judge(limited.point).passed  # what it reports did break


def test_the_headline_gives_every_parameter_where_it_first_broke_and_the_images():
    spec = SearchSpec(ranges_of({"brightness": [0.4, 1.6], "noise": [0, 30]}))
    verdicts = {(0, 0): FakeVerdict(True), (-12, 23): FakeVerdict(False), (-9, 0): FakeVerdict(False)}
    found = Exploration(spec.ranges, point=(-9, 0), first=(-12, 23), verdicts=verdicts, budget=100)
    assert CaseSearch(spec, found, verdicts[(-9, 0)], predicted=2).headline() == (
        "breaks at brightness=0.55, noise=0 (shrunk from brightness=0.4, noise=23; 3 images judged, 2 predicted)"
    )
    found.first, found.limited = (-9, 0), True
    assert CaseSearch(spec, found, verdicts[(-9, 0)], predicted=0).headline() == (
        "breaks at brightness=0.55, noise=0 (the first break found, not shrunk further; "
        "shrinking stopped at its limit of 100 images; 3 images judged, 0 predicted)"
    )
    held = Exploration(spec.ranges, verdicts={(0, 0): FakeVerdict(True, 0.9), (2, 5): FakeVerdict(True, 0.7)})
    assert CaseSearch(spec, held, held.verdicts[(2, 5)], predicted=0).headline() == (
        "held on 2 images (brightness=1.1, noise=5 came closest)"
    )


def test_an_error_while_judging_stops_the_search_and_is_raised():
    spec = SearchSpec(ranges_of({"noise": [0, 30]}))
    calls = []

    def judge(point):
        calls.append(point)
        raise OSError("image gone")

    with pytest.raises(OSError, match="image gone"):
        explore(spec.ranges, judge)
    assert len(calls) == 1


# --- the schema -------------------------------------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (64, 48)).save(tmp_path / "img.png")
    (tmp_path / "model.pt").write_bytes(b"")
    return tmp_path


def load(workdir: Path, text: str):
    path = workdir / "cases.yaml"
    path.write_text("model: model.pt\n" + text)
    return load_case_file(path)


def test_file_search_is_every_case_default_and_a_case_replaces_it(workdir):
    loaded = load(
        workdir,
        "thresholds: {robust_box_iou: 0.4}\nsearch: {noise: [0, 30], mask_iou: 0.3}\ncases:\n"
        "  - {name: a, image: img.png, objects: []}\n"
        "  - {name: b, image: img.png, objects: [], search: {brightness: [0.5, 1.0], max_extra: 2}}\n"
        "  - {name: c, image: img.png, objects: [], search: {}}\n",
    )
    a, b, c = loaded.cases
    assert [r.kind for r in a.search.ranges] == ["noise"]
    assert (a.search.box_iou, a.search.mask_iou, a.search.max_extra) == (0.4, 0.3, None)  # robust_* apply
    assert [r.kind for r in b.search.ranges] == ["brightness"]
    assert (b.search.box_iou, b.search.mask_iou, b.search.max_extra) == (0.4, None, 2)
    assert c.search is None


SEARCH_ERRORS = [
    ("{brightnes: [0.4, 1.6]}", "search.brightnes", "unknown key; did you mean 'brightness'?"),
    ("{hue: [0, 1]}", "search.hue", "unknown key; searchable: scale, crop, pad, brightness"),
    ("{brightness: 0.5}", "search.brightness", "expected a range [low, high], got 0.5"),
    ("{brightness: [0.4, 12]}", "search.brightness[1]", "12 is outside [0, 10]"),
    ("{brightness: [1.6, 0.4]}", "search.brightness", "low 1.6 is above high 0.4"),
    ("{scale: [0, 1]}", "search.scale[0]", "0 is outside (0, 8]"),
    ("{jpeg: [0, 100]}", "search.jpeg[0]", "expected a JPEG quality"),
    ("{pad: [0, 2.5]}", "search.pad[1]", "a whole number of pixels"),
    ("{brightness: [0.41, 0.44]}", "search.brightness", "no value of the brightness grid (1 + k * 0.05) lies in"),
    ("{hflip: true}", "search.hflip", "hflip has no range to search: judge it with `transforms: [hflip]`"),
    ("{box_iou: 0.5}", "search", "thresholds but nothing to search"),
    ("{noise: [0, 30], box_iou: 2}", "search.box_iou", "expected a number in [0, 1], got 2"),
    ("{noise: [0, 30], max_extra: -1}", "search.max_extra", "expected a whole number >= 0"),
    ("[noise]", "search", "expected a mapping such as {brightness: [0.4, 1.6], noise: [0, 30]}, or {} for none"),
]


@pytest.mark.parametrize(("search", "field", "phrase"), SEARCH_ERRORS)
def test_a_bad_case_search_is_one_line_naming_file_case_and_field(workdir, search, field, phrase):
    (broken,) = load(workdir, f"cases:\n  - {{name: a, image: img.png, objects: [], search: {search}}}\n").cases
    assert isinstance(broken, BrokenCase)
    assert str(broken.error).startswith(f"cases.yaml: case 'a': {field}: ")
    assert phrase in str(broken.error) and "\n" not in str(broken.error)


def test_a_bad_file_search_breaks_the_file(workdir):
    with pytest.raises(CaseFileError) as info:
        load(workdir, "search: {noise: [30, 0]}\ncases:\n  - {name: a, image: img.png, objects: []}\n")
    assert str(info.value) == "cases.yaml: search.noise: low 30 is above high 0"


def test_the_shipped_suites_have_no_search():
    loaded = load_case_file(CASES / "shapes-seg.yaml", check_model=False)
    assert all(isinstance(case, Case) and case.search is None for case in loaded.cases)
