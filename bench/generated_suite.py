"""Write a large golden suite for the benchmarks: N new scenes from the shapes generator.

    python bench/generated_suite.py OUT_DIR --cases 10000 [--files 10] [--task seg]

Scenes come from a split of their own ("bench"), so none is a training or golden image. Every
case has a unique image, with the generator's exact boxes (and polygon masks for seg), and the
case files use the shipped model and the shipped suites' predict arguments and thresholds. An
existing suite of the same size in OUT_DIR is reused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures"))

from make_cases import PREDICT, case_yaml  # noqa: E402
from PIL import Image  # noqa: E402

from shapes import make_scene, render  # noqa: E402


def write_suite(out: Path, cases: int, *, files: int = 10, task: str = "seg") -> Path:
    """OUT/<task>-<cases>/cases/ holding ``files`` case files, and OUT/<task>-<cases>/images/ the
    images (outside the folder pytest walks, as a big suite should keep them); returns the cases folder."""
    folder = out / f"{task}-{cases}"
    done = folder / ".complete"
    if done.exists():
        return folder / "cases"
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    (folder / "cases").mkdir(exist_ok=True)
    model = ROOT / "fixtures" / "models" / f"shapes-{task}.pt"
    thresholds = "{box_iou: 0.75, mask_iou: 0.70, max_extra: 0}" if task == "seg" else "{box_iou: 0.75, max_extra: 0}"
    per_file = -(-cases // files)
    for f in range(files):
        blocks = []
        for index in range(f * per_file, min(cases, (f + 1) * per_file)):
            scene = make_scene("bench", index)
            name = f"bench-{index:05d}.png"
            Image.fromarray(render(scene)).save(images / name)
            blocks.append(case_yaml(index, scene, f"../images/{name}", with_masks=task == "seg"))
        header = (
            f"version: 1\nmodel: {model}\ntask: {'segment' if task == 'seg' else 'detect'}\n"
            f"predict: {PREDICT}\nthresholds: {thresholds}\ncases:\n"
        )
        (folder / "cases" / f"part-{f:02d}.yaml").write_text(header + "\n".join(blocks) + "\n")
    done.touch()
    return folder / "cases"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--task", choices=["seg", "detect"], default="seg")
    args = parser.parse_args()
    print(write_suite(args.out, args.cases, files=args.files, task=args.task))


if __name__ == "__main__":
    main()
