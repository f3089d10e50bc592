"""Layer 6, golden: making and changing golden cases: recording a model's predictions
(``vision-harness new``), importing and exporting COCO and YOLO annotations, review pictures.

Stands on every layer below. A new import or export format goes here, with a subcommand in harness/cli/.
"""
