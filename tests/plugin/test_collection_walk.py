"""pytest's walk of a project: a folder holding nothing but pictures is not walked (asking every plugin
about each of 10,000 pictures cost 2.2 s of a big suite's collection); anything else is walked as before."""

from __future__ import annotations

RECORDER = """
seen = []

def pytest_collect_file(file_path, parent):
    seen.append(file_path.relative_to(parent.config.rootpath).as_posix())

def pytest_collection_finish(session):
    (session.config.rootpath / "seen.txt").write_text("\\n".join(sorted(seen)))
"""


def _layout(pytester) -> None:
    pytester.makeconftest(RECORDER)
    for folder, names in {
        "images": ["a.png", "b.JPG", "c.webp"],
        "mixed": ["a.png", "test_mixed.py"],
        "images/nested": ["d.png"],
    }.items():
        (pytester.path / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            text = "def test_here():\n    pass\n" if name.endswith(".py") else "x"
            (pytester.path / folder / name).write_text(text)
    (pytester.path / "pictures").mkdir()
    (pytester.path / "pictures" / "e.png").write_text("x")


def test_a_folder_of_pictures_alone_is_not_walked(pytester):
    _layout(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)  # mixed/test_mixed.py: a folder with pictures and a test is walked
    seen = (pytester.path / "seen.txt").read_text().split("\n")
    assert "mixed/a.png" in seen and "mixed/test_mixed.py" in seen
    assert "images/a.png" in seen  # images/ holds a folder besides its pictures: walked
    assert not [name for name in seen if name.startswith(("images/nested/", "pictures/"))]


def test_a_folder_of_pictures_named_on_the_command_line_is_walked(pytester):
    _layout(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider", "pictures")
    result.assert_outcomes()
    assert "pictures/e.png" in (pytester.path / "seen.txt").read_text().split("\n")
