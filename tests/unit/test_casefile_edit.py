"""harness.casefile_edit: round-trip editing that keeps a person's file, and atomic writes."""

from __future__ import annotations

import os
import stat

import pytest
import yaml

from harness.casefile.edit import TEMP_PREFIX, CaseDocument, case_entry, case_name, number, write_atomic
from harness.core.errors import CaseFileError

from conftest import CASES


@pytest.mark.parametrize("name", ["shapes-detect.yaml", "shapes-seg.yaml"])
def test_an_unchanged_case_file_is_written_back_byte_for_byte(name):
    assert CaseDocument.load(CASES / name).text() == (CASES / name).read_text()


@pytest.mark.parametrize(
    "text",
    [
        "cases:\n- name: a  # flush left\n  image: x.png\n  objects: []\n",
        "# top\ncases:\n    -   name: a\n        image: x.png\n        objects: []   # none\n",
        "cases:\n  - {name: a, image: x.png, objects: []}\n",
    ],
)
def test_other_layouts_survive_a_round_trip(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    document = CaseDocument.load(path)
    assert yaml.safe_load(document.text()) == yaml.safe_load(text)
    assert [line for line in document.text().splitlines() if "#" in line] == [
        line for line in text.splitlines() if "#" in line
    ]


def test_rle_strings_are_quoted_so_yaml_reads_them_back(tmp_path):
    counts = "l[Q23j94N1:?[]{},#O"  # characters YAML would read as syntax in a flow mapping
    entry = case_entry(
        "a", "x.png", [{"class": "c", "box": [1, 2, 3, 4], "mask": {"rle": {"size": [5, 6], "counts": counts}}}]
    )
    document = CaseDocument(tmp_path / "c.yaml")
    document.cases.append(entry)
    assert yaml.safe_load(document.text())["cases"][0]["objects"][0]["mask"]["rle"]["counts"] == counts


def test_a_write_the_check_refuses_leaves_the_file_and_no_temporary(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("old\n")
    os.chmod(path, 0o640)

    def refuse(temporary, target):
        assert temporary.read_text() == "new\n" and target == path
        raise CaseFileError(target, "no")

    with pytest.raises(CaseFileError):
        write_atomic(path, "new\n", check=refuse)
    assert path.read_text() == "old\n"
    assert not list(tmp_path.glob(TEMP_PREFIX + "*"))
    write_atomic(path, "new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the file keeps its permissions
    assert not list(tmp_path.glob(TEMP_PREFIX + "*"))


def test_saving_refuses_a_case_that_would_not_load(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("cases:\n  - name: a\n    image: gone.png\n    objects: []\n")
    document = CaseDocument.load(path)
    document.cases.append(case_entry("b", "gone.png", []))
    document.save(changed=[])  # case a was broken before and stays so; nothing new is broken
    with pytest.raises(CaseFileError, match=r"c.yaml: case 'b': image: not written, the case would not load: image"):
        document.save(changed=["b"])


def test_case_names_from_file_names_are_valid_and_unique():
    taken = {"img-01"}
    assert [case_name(stem, taken) for stem in ("img 01", "img 01", "_x", "suite", "é")] == [
        "img-01-2",
        "img-01-3",
        "x",
        "suite-image",
        "image",
    ]


def test_numbers_keep_hundredths_and_drop_point_zero():
    assert [number(v) for v in (12.0, 12.344, 12.345001, 0.1 + 0.2)] == [12, 12.34, 12.35, 0.3]
    assert isinstance(number(12.0), int)
