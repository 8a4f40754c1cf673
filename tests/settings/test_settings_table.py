"""Every setting, set by invoke.yaml, by an INVOKE_PIPELINE_* variable and by its flag, goes through
the one parser: good values arrive parsed, bad ones end in one `error:` line naming their source."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nodemcu_pipeline.errors import UsageError
from nodemcu_pipeline.settings.table import BY_KEY, DEFAULTS, SETTINGS, settings
from tests.conftest import ROOT, assert_one_line_error, run_invoke

# key: (good value, how `settings` shows it, bad value or None, words of the error)
CASES: dict[str, tuple[str, str, str | None, str]] = {
    "port": ("/dev/ttyUSB7", "/dev/ttyUSB7", "", "empty"),
    "baud": ("115200", "115200", "abc", "whole number"),
    "rom_baud": ("460800", "460800", "fast", "whole number"),
    "before": ("default_reset", "auto", "foo", "before"),
    "after": ("hard_reset", "hard-reset", "foo", "after"),
    "flash_size": ("32m", "4MB", "4M", "ambiguous"),
    "flash_mode": ("dout", "dout", "fast", "flash mode"),
    "flash_freq": ("80m", "80m", "99m", "flash freq"),
    "layout": ("sdk2", "sdk2", "sdk9", "layout"),
    "source": ("cloud", "cloud", "ftp", "source"),
    "format": ("never", "never", "maybe", "format"),
    "allow_http": ("false", "False", "maybe", "true or false"),
    "build_dir": ("out", "{root}/out", None, ""),
    "cache_dir": ("/tmp/some-cache", "/tmp/some-cache", None, ""),
    "firmware_dir": ("fw", "{root}/fw", None, ""),
    "image": ("me/fw:1", "me/fw:1", "Bad Tag", "image name"),
    "sdk_mirror": ("http://127.0.0.1:8/m", "http://127.0.0.1:8/m", "notaurl", "url"),
    "sources_mirror": ("/srv/sources", "/srv/sources", None, ""),
    "registry": ("127.0.0.1:5000/mirror", "127.0.0.1:5000/mirror", None, ""),
    "project_dir": (".", "{root}", "/nonexistent/project", "does not exist"),
}
BAD = [k for k, case in CASES.items() if case[2] is not None]


def test_every_setting_has_a_case():
    assert set(CASES) == set(BY_KEY)


def nodemcu_pipeline(*args: str, cwd: Path, env: dict[str, str] | None = None):
    full = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_PIPELINE_")}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "nodemcu_pipeline", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
    )


def shown(stdout: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in stdout.splitlines():
        key, value, where = (line.split() + ["", ""])[:3] if line.split()[1:] else (line, "", "")
        rows[key] = (value, where)
    return rows


def yaml_of(values: dict[str, str]) -> str:
    return "pipeline:\n" + "".join(f"  {k}: '{v}'\n" for k, v in values.items())


def expect(key: str, root: Path) -> str:
    return CASES[key][1].format(root=root)


def test_every_good_value_from_invoke_yaml(tmp_path):
    (tmp_path / "invoke.yaml").write_text(yaml_of({k: c[0] for k, c in CASES.items()}))
    proc = nodemcu_pipeline("settings", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = shown(proc.stdout)
    for key in CASES:
        if key == "sdk_mirror" or key == "port":
            assert rows[key][0] == expect(key, tmp_path), key
            continue
        assert rows[key][0] == expect(key, tmp_path), (key, rows[key])
        assert "invoke.yaml" in rows[key][1] or key == "project_dir", (key, rows[key])


def test_every_good_value_from_the_environment(tmp_path):
    env = {BY_KEY[k].env: c[0] for k, c in CASES.items()}
    proc = run_invoke("settings", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    rows = shown(proc.stdout)
    for key in CASES:
        assert rows[key][0] == expect(key, tmp_path), (key, rows[key])
        assert rows[key][1] == BY_KEY[key].env, (key, rows[key])


@pytest.mark.parametrize("key", BAD)
def test_bad_value_in_invoke_yaml_is_one_line(tmp_path, key):
    (tmp_path / "invoke.yaml").write_text(yaml_of({key: CASES[key][2] or ""}))
    proc = nodemcu_pipeline("settings", cwd=tmp_path)
    assert_one_line_error(proc, CASES[key][3], code=2)
    assert "invoke.yaml" in proc.stderr and key in proc.stderr


@pytest.mark.parametrize("key", BAD)
def test_bad_value_in_the_environment_is_one_line(tmp_path, key):
    proc = run_invoke("settings", cwd=tmp_path, env={BY_KEY[key].env: CASES[key][2] or ""})
    assert_one_line_error(proc, CASES[key][3], BY_KEY[key].env, code=2)


# A task that has each setting as a flag (flags with a value; --allow-http is a switch).
FLAG_TASK = {
    "port": ("flash",),
    "baud": ("flash",),
    "before": ("flash",),
    "after": ("flash",),
    "flash_size": ("flash",),
    "flash_mode": ("flash",),
    "flash_freq": ("flash",),
    "layout": ("assemble", "--flash-size", "4MB"),
    "source": ("build",),
    "format": ("check",),
    "image": ("build",),
}


@pytest.mark.parametrize("key", sorted(FLAG_TASK))
def test_bad_value_as_a_flag_is_one_line(tmp_path, key):
    task, *rest = FLAG_TASK[key]
    proc = run_invoke(task, BY_KEY[key].flag, CASES[key][2] or "", *rest, cwd=tmp_path)
    assert_one_line_error(proc, CASES[key][3], code=2)
    assert list(tmp_path.iterdir()) == []


def test_mirror_flag_and_project_dir_flag(tmp_path):
    proc = run_invoke("initdata", "--sdk", "3.0.6", "--mirror", "notaurl", cwd=tmp_path)
    assert_one_line_error(proc, "url", code=2)
    proc = nodemcu_pipeline("--project-dir", str(tmp_path / "nothere"), "settings", cwd=tmp_path)
    assert_one_line_error(proc, "does not exist", code=2)


def test_false_means_false_and_booleans_are_strict():
    for text in ("false", "FALSE", "no", "off", "0", ""):
        assert settings({"pipeline": {"allow_http": text}}).allow_http is False
    for text in ("true", "yes", "on", "1", True):
        assert settings({"pipeline": {"allow_http": text}}).allow_http is True
    with pytest.raises(UsageError):
        settings({"pipeline": {"allow_http": "2"}})


def test_defaults_are_strings_so_invoke_never_casts():
    # invoke casts INVOKE_* strings to the default's type: bool("false") would be True.
    assert all(isinstance(v, str) for v in DEFAULTS.values())
    assert [s.key for s in SETTINGS] == list(DEFAULTS)


@pytest.mark.parametrize(
    "text",
    ["pipeline:\n  baud: [1\n", "pipeline: 5\n", "- a\n", "pipeline:\n  baud: {a: 1}\n"],
    ids=["syntax", "not-a-mapping", "a-list", "nested-value"],
)
def test_broken_config_file_is_one_line(tmp_path, text):
    (tmp_path / "invoke.yaml").write_text(text)
    assert_one_line_error(nodemcu_pipeline("settings", cwd=tmp_path), "invoke.yaml")
    (tmp_path / "run.yaml").write_text(text)
    assert_one_line_error(run_invoke("-f", "run.yaml", "settings", cwd=tmp_path), "run.yaml")


def test_unknown_key_is_named(tmp_path):
    (tmp_path / "invoke.yaml").write_text("pipeline:\n  baudrate: 115200\n")
    assert_one_line_error(nodemcu_pipeline("settings", cwd=tmp_path), "baudrate", code=2)


def test_paths_come_from_the_project_root_not_the_cwd(tmp_path):
    from nodemcu_pipeline.firmware.image import Segment, build_image

    (tmp_path / "invoke.yaml").write_text("pipeline:\n  build_dir: out\n")
    (tmp_path / "docs").mkdir()
    fw = build_image(
        0x40100000, [Segment(0x40100000, b"NodeMCU 3.0.0.0 3.0-master_20200910\0" * 8)]
    )
    (tmp_path / "fw.bin").write_bytes(fw)
    proc = nodemcu_pipeline(
        "assemble", "--firmware", "../fw.bin", "--flash-size", "4MB", cwd=tmp_path / "docs"
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "plan.json").is_file()
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == []
    # invoke in a checkout does the same: the root is found upwards from the cwd.
    proc = run_invoke("settings", cwd=ROOT / "docs")
    assert f"{ROOT / 'build'} " in proc.stdout, proc.stdout


def test_readme_settings_table_is_the_settings_table():
    from nodemcu_pipeline.settings.table import settings_table

    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- settings-table")
    start = readme.index("\n", start) + 1
    end = readme.index("<!-- end settings-table -->")
    assert readme[start:end].strip() == settings_table()


def test_readme_opens_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```sh") + 3]
    assert block[0].startswith("bash .ci/setup && invoke demo")
    assert block[1].startswith("bash .ci/setup && python3 -m pytest -q")
