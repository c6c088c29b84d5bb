from __future__ import annotations

import json

import pytest

from streams.adapters.files.spec_files import load_spec_files
from streams.core import InvalidSpec


def write_spec(path, model_id):
    path.write_text(json.dumps({"model_id": model_id, "features": {"x": {"type": "number"}}}))


def test_files_and_folders_of_specs(tmp_path):
    folder = tmp_path / "specs"
    folder.mkdir()
    write_spec(folder / "b.json", "model-b")
    write_spec(folder / "a.json", "model-a")
    (folder / "notes.txt").write_text("not a spec")
    single = tmp_path / "c.json"
    write_spec(single, "model-c")
    specs = load_spec_files([folder, single])
    assert [spec.model_id for spec in specs] == ["model-a", "model-b", "model-c"]


@pytest.mark.parametrize("content", ["{not json", '{"model_id": "m", "features": 3}'])
def test_a_bad_file_is_named_in_the_error(tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(InvalidSpec, match=r"bad\.json"):
        load_spec_files([bad])


def test_a_missing_file_is_named_in_the_error(tmp_path):
    with pytest.raises(InvalidSpec, match=r"absent\.json"):
        load_spec_files([tmp_path / "absent.json"])
