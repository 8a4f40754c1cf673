"""nodemcu_pipeline/stage.py: a stage record is a file anyone can edit, so it vouches only for outputs
inside its own build directory (issue 16 item 9: what the tool reads back is an input too)."""

from __future__ import annotations

import json
from pathlib import Path

from nodemcu_pipeline.records import stage


def test_a_record_is_fresh_for_its_own_outputs(tmp_path: Path) -> None:
    out = tmp_path / "firmware" / "x.bin"
    out.parent.mkdir()
    out.write_bytes(b"image")
    stage.save_record(tmp_path, "firmware", {"a": 1}, [out])
    assert stage.is_fresh(tmp_path, "firmware", {"a": 1})
    assert stage.recorded_outputs(tmp_path, "firmware") == [out]


def test_an_edited_record_cannot_name_files_outside_the_build_dir(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    secret = tmp_path / "secret" / "nodemcu_float_pipeline.bin"
    secret.parent.mkdir()
    secret.write_bytes(b"not a build output")
    (build / "firmware").mkdir()
    (build / "firmware" / "link.bin").symlink_to(secret)
    for name in (str(secret), str(build / "firmware" / "link.bin")):
        record = {"inputs": {"a": 1}, "outputs": {name: stage.sha256_file(secret)}}
        (build / "firmware.json").write_text(json.dumps(record))
        assert not stage.is_fresh(build, "firmware", {"a": 1})
        assert stage.recorded_outputs(build, "firmware") == []


def test_a_record_of_the_wrong_shape_is_no_record(tmp_path: Path) -> None:
    for text in ("[1, 2]", '{"inputs": {"a": 1}, "outputs": [1]}', "null"):
        (tmp_path / "firmware.json").write_text(text)
        assert not stage.is_fresh(tmp_path, "firmware", {"a": 1})
        assert stage.recorded_outputs(tmp_path, "firmware") == []
