"""The text of one notebook cell, found by its id: where a quote lives, for the tests that
check quoted numbers and prompts against a results file."""

from __future__ import annotations

import json
import re
from pathlib import Path


def cell_text(notebook: Path, cell_id: str, *, squash_spaces: bool = False) -> str:
    """The source of the cell with id ``cell_id`` in a notebook file: where a quote lives,
    for the tests that check quoted numbers against a results file. ``squash_spaces``
    turns every run of whitespace (line breaks included) into one space."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    found = [c for c in cells if c.get("id") == cell_id]
    if len(found) != 1:
        raise KeyError(f"{Path(notebook).name}: {len(found)} cells with id {cell_id!r}")
    text = "".join(found[0]["source"])
    return re.sub(r"\s+", " ", text) if squash_spaces else text
