"""The documentation's examples: every YAML case file shown in README.md and docs/*.md loads with the
harness's own loader, every docs page is in mkdocs.yml's navigation, and README's links lead to files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from pycocotools import mask as mask_utils

from harness import BrokenCase, load_case_file


def _root() -> Path:
    """The repository root: the first folder above this file that holds mkdocs.yml (wherever tests/ puts it)."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "mkdocs.yml").is_file():
            return folder
    raise RuntimeError("no mkdocs.yml above this test")


ROOT = _root()
DOCS = ROOT / "docs"
FIXTURE_IMAGES = ROOT / "fixtures" / "images"
FIXTURE_MODELS = ROOT / "fixtures" / "models"
STAND_IN_SIZE = (1280, 720)  # an image the docs name that fixtures/ does not have: a camera frame
RLE_PLACEHOLDER = re.compile(r'\{size: \[(\d+), (\d+)\], counts: "<COCO compressed RLE>"\}')
FENCE = re.compile(r"^```yaml[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def _case_file_blocks() -> list[pytest.param]:
    """Every ```yaml block with a top-level `cases:` key, as `page:N` (N counts the page's yaml blocks from 1)."""
    params = []
    for page in _pages():
        for number, match in enumerate(FENCE.finditer(page.read_text(encoding="utf-8")), start=1):
            text = match.group(1)
            if re.search(r"^cases:", text, re.MULTILINE):
                params.append(pytest.param(text, id=f"{page.name}:{number}"))
    return params


def _real_rle(text: str) -> str:
    """The docs write `counts: "<COCO compressed RLE>"` for a string nobody reads; put in a real one of that size."""

    def real(match: re.Match) -> str:
        height, width = int(match.group(1)), int(match.group(2))
        pixels = np.zeros((height, width), dtype=np.uint8, order="F")
        pixels[height // 4 : height // 2, width // 4 : width // 2] = 1
        counts = mask_utils.encode(pixels)["counts"].decode("ascii")
        return f"{{size: [{height}, {width}], counts: {json.dumps(counts)}}}"  # a JSON string is a YAML string

    return RLE_PLACEHOLDER.sub(real, text)


def _stand_in_model(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    source = FIXTURE_MODELS / path.name
    shutil.copyfile(source if source.is_file() else FIXTURE_MODELS / "shapes-detect.pt", path)


def _stand_in_image(path: Path) -> tuple[int, int]:
    """A fixture image of the same name where there is one (so boxes are checked against its real size)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if (FIXTURE_IMAGES / path.name).is_file():
        shutil.copyfile(FIXTURE_IMAGES / path.name, path)
    elif not path.exists():
        Image.new("RGB", STAND_IN_SIZE, (90, 90, 90)).save(path)
    with Image.open(path) as image:
        return image.size


def _write_stand_ins(document: dict, case_file: Path) -> None:
    """The files a case file names, beside it in tmp_path: models, images, PNG masks of the image's size."""
    base = case_file.parent
    model = document.get("model")
    if isinstance(model, dict):
        model = model.get("path")
    compare_to = document.get("compare_to")
    if isinstance(compare_to, dict):
        compare_to = compare_to.get("model")
    for name in (model, compare_to):
        if isinstance(name, str) and "://" not in name:
            _stand_in_model(base / name)
    for case in document["cases"]:
        size = _stand_in_image(base / case["image"])
        for obj in case.get("objects") or []:
            mask = obj.get("mask")
            if isinstance(mask, dict) and "png" in mask:
                png = base / mask["png"]
                png.parent.mkdir(parents=True, exist_ok=True)
                picture = Image.new("L", size, 0)
                picture.paste(255, (0, 0, size[0] // 2, size[1] // 2))
                picture.save(png)


@pytest.mark.parametrize("block", _case_file_blocks())
def test_docs_case_file_loads(block: str, tmp_path: Path):
    text = _real_rle(block)
    document = yaml.safe_load(text)
    assert isinstance(document, dict) and isinstance(document["cases"], list)
    case_file = tmp_path / "cases" / "example.yaml"
    case_file.parent.mkdir()
    case_file.write_text(text, encoding="utf-8")
    _write_stand_ins(document, case_file)

    loaded = load_case_file(case_file)

    broken = [f"{case.name}: {case.error}" for case in loaded.cases if isinstance(case, BrokenCase)]
    assert broken == []
    assert [case.name for case in loaded.cases] == [case["name"] for case in document["cases"]]


def test_the_examples_are_found():
    """The parametrization above is not vacuous: the case-file examples of the main pages are in it."""
    ids = {param.id for param in _case_file_blocks()}
    for page in ("README.md", "case-files.md", "robustness.md"):
        assert any(i.startswith(f"{page}:") for i in ids), page


def _nav_pages(nav: list) -> set[str]:
    pages: set[str] = set()
    for entry in nav:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            pages |= _nav_pages(value) if isinstance(value, list) else {value}
    return pages


def test_every_docs_page_is_in_the_nav_and_every_nav_entry_exists():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    in_nav = _nav_pages(config["nav"])
    on_disk = {page.relative_to(DOCS).as_posix() for page in DOCS.rglob("*.md")}
    assert on_disk - in_nav == set(), "pages missing from mkdocs.yml's nav"
    assert in_nav - on_disk == set(), "nav entries without a page"


def test_readme_links_lead_to_files():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", readme) if "://" not in t]
    assert any(t.startswith("docs/") for t in targets)
    missing = [t for t in targets if t and not (ROOT / t).exists()]
    assert missing == []
