"""``resolved`` is ``Path.resolve`` with folders resolved once: the same answer for plain files,
files that are symbolic links, files in linked folders, missing files and dot names."""

from __future__ import annotations

import os

import pytest

from harness.core.paths import forget_resolved_folders, only_pictures, outside_root, resolved


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "root" / "images").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "root" / "images" / "a.png").write_bytes(b"x")
    (tmp_path / "elsewhere" / "secret.png").write_bytes(b"x")
    os.symlink(tmp_path / "elsewhere" / "secret.png", tmp_path / "root" / "images" / "link.png")
    os.symlink(tmp_path / "elsewhere", tmp_path / "root" / "linked")
    forget_resolved_folders()
    return tmp_path


@pytest.mark.parametrize(
    "relative",
    [
        "root/images/a.png",
        "root/images/link.png",
        "root/linked/secret.png",
        "root/images/../images/a.png",
        "root/images/missing.png",
        "root/images/..",
        "root/images/.",
        "root/nothing/here/b.png",
    ],
)
def test_resolved_equals_path_resolve(tree, relative):
    path = tree / relative
    assert resolved(path) == path.resolve()


def test_a_link_to_outside_the_root_is_refused(tree):
    root = tree / "root"
    assert outside_root(tree / "root/images/a.png", root) is None
    assert "outside the project root" in outside_root(tree / "root/images/link.png", root)
    assert "outside the project root" in outside_root(tree / "root/linked/secret.png", root)


def test_a_folder_changed_into_a_link_is_seen_after_forgetting(tree):
    folder = tree / "root" / "swap"
    folder.mkdir()
    inside = folder / "a.png"
    assert resolved(inside) == inside
    folder.rmdir()
    os.symlink(tree / "elsewhere", folder)
    forget_resolved_folders()
    assert resolved(inside) == (tree / "elsewhere" / "a.png").resolve()


def test_only_pictures_tells_a_folder_of_pictures_alone(tmp_path):
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    assert not only_pictures(pictures)  # empty: nothing to tell, pytest's own walk is as cheap
    for name in ("a.png", "b.JPG", "c.jpeg", "d.webp"):
        (pictures / name).write_bytes(b"x")
    assert only_pictures(pictures)
    os.symlink(pictures / "a.png", pictures / "e.png")
    assert only_pictures(pictures)  # a link to a picture is a picture
    for intruder in ("test_x.py", "cases.yaml", "png", ".png", "notes.txt"):
        (pictures / intruder).write_bytes(b"x")
        assert not only_pictures(pictures), intruder
        (pictures / intruder).unlink()
    (pictures / "sub").mkdir()
    assert not only_pictures(pictures)  # a subfolder may hold tests
    (pictures / "sub").rmdir()
    os.symlink(tmp_path / "missing.png", pictures / "broken.png")
    assert not only_pictures(pictures)
    assert not only_pictures(tmp_path / "no-such-folder")
