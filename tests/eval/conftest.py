"""A small copy of the shared data: the first rows of every file."""

import json
import shutil

import pytest

ROWS_PER_FILE = 12


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """The shared data's manifest and the first rows of every file (a sample, in tmp)."""
    from conftest import DATA_DIR

    out = tmp_path_factory.mktemp("data")
    shutil.copy(DATA_DIR / "manifest.json", out / "manifest.json")
    for entry in json.loads((DATA_DIR / "manifest.json").read_text()):
        target = out / entry["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = (DATA_DIR / entry["file"]).read_text(encoding="utf-8").splitlines()
        rows = 40 if "Banking77" in entry["file"] else ROWS_PER_FILE  # every label in train
        target.write_text("\n".join(lines[:rows]) + "\n", encoding="utf-8")
    return out
