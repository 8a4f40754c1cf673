"""Bad inputs of issue 22 that touch the disk: outputs that are not regular files, settings files that
are code, options that are checked wrongly (items 2, 10, 12; ``clean``'s, item 3, are in workflows/test_clean.py).

Same rules as the catalog in test_bad_inputs.py (one ``error:`` line, the exit code, nothing written),
with a stricter "nothing written": every entry of the case directory is compared by its kind (a FIFO
that became a regular file counts), its bytes, its link target and its device number.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import tests.test_bad_inputs as catalog
from tests.conftest import ROOT, assert_one_line_error, run_invoke
from tests.test_bad_inputs import Case

# The catalog's module fixtures, for the cases that need a live board or a silent port.
board_url = catalog.board_url
silent_port = catalog.silent_port
page_server = catalog.page_server


@dataclass(frozen=True)
class DiskCase(Case):
    """A catalog case that may run the console script and may name words the line must not hold."""

    console: bool = False  # python -m nodemcu_pipeline (from the case directory), not invoke
    absent: tuple[str, ...] = ()


# --- nothing written, strictly ---------------------------------------------------------------------
Entry = tuple[int, str]


def snapshot(root: Path) -> dict[str, Entry]:
    """Every entry under ``root`` (links not followed): its kind and what identifies its content."""
    seen: dict[str, Entry] = {}
    for dirpath, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if catalog._is_cache_lock(Path(rel)):
                continue
            info = os.lstat(path)
            kind = stat.S_IFMT(info.st_mode)
            if stat.S_ISREG(info.st_mode):
                what = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(info.st_mode):
                what = os.readlink(path)
            elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                what = f"rdev {info.st_rdev}"
            else:
                what = ""
            seen[rel] = (kind, what)
    return seen


def changes(before: dict[str, Entry], after: dict[str, Entry]) -> list[str]:
    """Entries that differ, appeared or went; an empty cache skeleton may appear (the catalog's
    rule: the download cache's directories hold nothing half-written)."""
    differ = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    skeleton = {
        k
        for k in differ
        if k not in before
        and after[k][0] == stat.S_IFDIR
        and Path(k).parts[0] == catalog.CACHE_SKELETON
    }
    return sorted(differ - skeleton)


def console_script(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m nodemcu_pipeline ARGS`` from ``cwd``, the way a user runs the installed script."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_PIPELINE_")}
    full.pop("PIPELINE_DEBUG", None)
    full["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.environ.get("PYTHONPATH", ""), str(ROOT)) if p
    )
    full.update(env or {})
    cmd = [sys.executable, "-m", "nodemcu_pipeline", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full)


def run_case(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Run ``case`` in ``tmp_path``: one error line, its exit code, and every entry as it was."""
    for name, data in case.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    args = case.args + (case.extra(tmp_path) if case.extra else ())
    if "{board}" in args:
        url = request.getfixturevalue("board_url")
        args = tuple(url if a == "{board}" else a for a in args)
    if "{silent}" in args:
        url = request.getfixturevalue("silent_port")
        args = tuple(url if a == "{silent}" else a for a in args)
    if any("server}" in a for a in args):
        base = request.getfixturevalue("page_server")
        tls = base.replace("http://", "https://")
        args = tuple(a.replace("{server}", base).replace("{https-server}", tls) for a in args)
    before = snapshot(tmp_path)
    env = {"INVOKE_PIPELINE_CACHE_DIR": catalog.CACHE_SKELETON, **case.env}
    if isinstance(case, DiskCase) and case.console:
        proc = console_script(*args, cwd=tmp_path, env=env)
    else:
        proc = run_invoke(*args, cwd=tmp_path, timeout=120, env=env)
    assert_one_line_error(proc, *case.needles, code=case.code)
    for word in case.absent if isinstance(case, DiskCase) else ():
        assert word.lower() not in proc.stderr.lower(), (word, proc.stderr)
    assert changes(before, snapshot(tmp_path)) == [], "the task changed the case directory"


def _fifo(name: str) -> Callable[[Path], tuple[str, ...]]:
    def make(d: Path) -> tuple[str, ...]:
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(d / name)
        return ()

    return make


# --- item 12: settings files are data, never code --------------------------------------------------
RAN = b'open("RAN", "w").write("ran")\n'
SETTINGS_FILES = [
    DiskCase(
        "console-f-python-file",
        ("-f", "other.py", "settings"),
        ("other.py", "YAML"),
        2,
        {"other.py": RAN},
        console=True,
    ),
    DiskCase(
        "console-f-text-file",
        ("-f", "other.txt", "settings"),
        ("other.txt", "YAML"),
        2,
        {"other.txt": b"pipeline:\n  baud: 9600\n"},
        console=True,
    ),
    DiskCase(
        "console-f-no-extension",
        ("-f", "settings", "settings"),
        ("YAML",),
        2,
        {"settings": b"pipeline:\n  baud: 9600\n"},
        console=True,
    ),
    DiskCase("console-f-missing", ("-f", "nope.yaml", "settings"), ("nope.yaml",), 2, console=True),
    DiskCase(
        "console-f-upper-case-extension",
        ("-f", "RUN.YAML", "settings"),
        ("RUN.YAML",),
        2,
        {"RUN.YAML": b"pipeline:\n  baud: 9600\n"},
        console=True,
    ),
    DiskCase("console-f-empty-name", ("-f", "", "settings"), ("-f",), 2, console=True),
    DiskCase(
        "console-f-fifo",
        ("-f", "f.yaml", "settings"),
        ("not a regular file",),
        1,
        extra=_fifo("f.yaml"),
        console=True,
    ),
    DiskCase(
        "console-f-directory",
        ("-f", "d.yaml", "settings"),
        ("not a regular file",),
        1,
        {"d.yaml/x": b""},
        console=True,
    ),
    DiskCase(
        "console-section-misspelt",
        ("settings",),
        ("pipline", "pipeline"),
        2,
        {"invoke.yaml": b"pipline:\n  baud: 9600\n"},
        console=True,
    ),
    DiskCase(
        "console-section-unknown",
        ("settings",),
        ("flasher",),
        2,
        {"invoke.yaml": b"flasher:\n  baud: 9600\n"},
        console=True,
    ),
    DiskCase(
        "invoke-f-section-misspelt",
        ("-f", "run.yaml", "settings"),
        ("pipelines",),
        2,
        {"run.yaml": b"pipelines:\n  baud: 9600\n"},
    ),
    DiskCase(
        "console-yaml-not-utf8",
        ("settings",),
        ("utf-8",),
        1,
        {"invoke.yaml": b'pipeline:\n  port: "/dev/tty\xff\xfe"\n'},
        console=True,
        absent=("json",),
    ),
    DiskCase(
        "console-env-unknown",
        ("settings",),
        ("INVOKE_PIPELINE_BAUDRATE", "INVOKE_PIPELINE_BAUD?"),
        2,
        env={"INVOKE_PIPELINE_BAUDRATE": "9600"},
        console=True,
    ),
    DiskCase(
        "invoke-env-unknown",
        ("settings",),
        ("INVOKE_PIPELINE_PROT", "INVOKE_PIPELINE_PORT"),
        2,
        env={"INVOKE_PIPELINE_PROT": "/dev/ttyUSB0"},
    ),
    DiskCase(
        "console-env-far-from-any",
        ("settings",),
        ("INVOKE_PIPELINE_ZZZ",),
        2,
        env={"INVOKE_PIPELINE_ZZZ": "1"},
        console=True,
    ),
    DiskCase(
        "console-key-nearest",
        ("settings",),
        ("baudrate", "did you mean baud"),
        2,
        {"invoke.yaml": b"pipeline:\n  baudrate: 9600\n"},
        console=True,
    ),
]


def test_console_script_never_runs_python_from_its_directory(tmp_path: Path) -> None:
    # invoke would execute a project invoke.py as settings, and `python -m` would import it as the
    # invoke library itself: neither may happen.
    (tmp_path / "invoke.py").write_bytes(RAN)
    (tmp_path / "yaml.py").write_bytes(RAN)
    proc = console_script("settings", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "RAN").exists()
    assert "invoke.py" in proc.stderr and "not read" in proc.stderr
    # The installed script's own path (its directory is not the cwd): invoke's config loader alone.
    code = (
        "import sys; sys.argv = ['nodemcu-pipeline', 'settings'];"
        "from nodemcu_pipeline.program import main; main()"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_PIPELINE_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-P", "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "RAN").exists()


def test_settings_in_yaml_still_apply(tmp_path: Path) -> None:
    # The data path keeps working: invoke.yaml, -f run.yml, invoke's own sections.
    (tmp_path / "invoke.yaml").write_text("pipeline:\n  baud: 9600\nrun:\n  echo: false\n")
    (tmp_path / "run.yml").write_text("pipeline:\n  flash_mode: dout\n")
    proc = console_script("-f", "run.yml", "settings", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines() if line.split()}
    assert (rows["baud"], rows["flash_mode"]) == ("9600", "dout")


def test_shared_user_file_may_hold_other_programs_sections(tmp_path: Path) -> None:
    # ~/.invoke.yaml is read by every invoke program: its other sections are theirs.
    home = tmp_path / "home"
    home.mkdir()
    (home / ".invoke.yaml").write_text("deploy:\n  host: example\npipeline:\n  baud: 9600\n")
    work = tmp_path / "work"
    work.mkdir()
    proc = console_script("settings", cwd=work, env={"HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    (home / ".invoke.yaml").write_text("pipline:\n  baud: 9600\n")
    assert_one_line_error(
        console_script("settings", cwd=work, env={"HOME": str(home)}), "pipline", code=2
    )


# --- item 10: every option is checked (the build timeout, TLS, manifest shapes) ----------------------
SUM0 = "0" * 64
LOCK_URL = "https://example.invalid/nodemcu.bin"


def _manifest(sdks: bytes) -> dict[str, bytes]:
    return {"sdk_cache/manifest.json": b'{"sdks": ' + sdks + b"}"}


ENTRY = b'{"url": "https://example.invalid/a.zip", "member": "m.bin", "member_sha256": "%s"' % (
    SUM0.encode()
)
OPTIONS = [
    DiskCase("build-timeout-below-a-second", ("build", "--timeout", "0.5"), ("--timeout",), 2),
    DiskCase("build-timeout-tiny", ("build", "--timeout", "1e-9"), ("--timeout",), 2),
    DiskCase(
        "initdata-https-to-plain-http",
        ("initdata", "--init-data-url", "{https-server}/sdk.zip", "--sha256", SUM0),
        ("does not speak tls", "http://"),
        absent=("cannot connect",),
    ),
    DiskCase(
        "cloud-https-to-plain-http",
        ("build", "--source", "cloud", "--url", "{https-server}/" + catalog.CLOUD_NAME),
        ("does not speak tls",),
    ),
    DiskCase(
        "initdata-manifest-entry-is-a-string",
        ("initdata", "--sdk", "3.0.6"),
        ("manifest.json", "3.0.6", "a string"),
        1,
        _manifest(b'{"3.0.6": "v3.0.6"}'),
        absent=("string indices",),
    ),
    DiskCase(
        "initdata-list-manifest-entry-is-a-list",
        ("initdata", "--list"),
        ("manifest.json", "2.2.1", "a list"),
        1,
        _manifest(b'{"2.2.1": ["https://example.invalid/a.zip"]}'),
    ),
    DiskCase(
        "initdata-manifest-entry-is-null",
        ("initdata", "--sdk", "3.0.6"),
        ("3.0.6", "null"),
        1,
        _manifest(b'{"3.0.6": null}'),
    ),
    DiskCase(
        "initdata-manifest-url-is-a-number",
        ("initdata", "--sdk", "3.0.6"),
        ("url", "a number"),
        1,
        _manifest(b'{"3.0.6": ' + ENTRY.replace(b'"https://example.invalid/a.zip"', b"7") + b"}}"),
    ),
    DiskCase(
        "initdata-manifest-archive-sum-is-a-list",
        ("initdata", "--sdk", "3.0.6"),
        ("archive_sha256", "a list"),
        1,
        _manifest(b'{"3.0.6": ' + ENTRY + b', "archive_sha256": ["x"]}}'),
    ),
    DiskCase(
        "initdata-manifest-is-a-fifo",
        ("initdata", "--sdk", "3.0.6"),
        ("manifest", "not a regular file"),
        1,
        extra=_fifo("sdk_cache/manifest.json"),
    ),
    DiskCase(
        "cloud-lock-file-is-a-fifo",
        ("build", "--source", "cloud", "--url", LOCK_URL),
        ("lock file", "not a regular file"),
        1,
        {"invoke.yaml": b"pipeline: {}\n"},
        extra=_fifo("firmware.lock.json"),
    ),
    DiskCase(  # held already on main; kept as a neighbour of the manifest cases
        "cloud-lock-entry-is-a-string",
        ("build", "--source", "cloud", "--url", LOCK_URL),
        ("firmware.lock.json",),
        1,
        {"firmware.lock.json": b'{"images": {"%s": "abc"}}' % LOCK_URL.encode()},
    ),
]


# --- item 2: outputs are written only to regular files (or new names) --------------------------------
ROOT_USER = os.geteuid() == 0
REFUSED = catalog.REFUSED
FW3 = catalog.FW3


def _node(kind: str, name: str) -> Callable[[Path], None]:
    """Make ``name`` in the case directory as ``kind``: what a user may name as an output by mistake."""

    def make(d: Path) -> None:
        path = d / name
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "chardev":  # a /dev/null of the case's own; the real one is never touched
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        elif kind == "directory":
            path.mkdir()
            (path / "keep.txt").write_bytes(b"mine")
        elif kind.startswith("link-to-"):
            _node(kind.removeprefix("link-to-"), name + ".target")(d)
            path.symlink_to(name + ".target")
        elif kind == "regular":
            path.write_bytes(b"the user's own file\n")
        elif kind == "dangling-link":
            path.symlink_to("nowhere.bin")

    return make


# Each task that writes a file the user names: its arguments ({out} is the output), input files, and
# whether an existing regular file needs --force there (a log or a saved state is meant to be reused).
OUTPUT_TASKS: dict[str, tuple[tuple[str, ...], dict[str, bytes], bool]] = {
    "assemble-merged": ((*catalog.ASM, "--flash-size", "4MB", "--merged", "{out}"), FW3, True),
    "read-flash": (("read-flash", "{out}", "--port", REFUSED), {}, True),
    "flash-report": (
        ("flash", "--port", REFUSED, "--firmware", "fw.bin", "--report", "{out}"),
        FW3,
        True,
    ),
    "download-out": (("download", "init.lua", "--out", "{out}", "--port", REFUSED), {}, True),
    "lfs-out": (("lfs", "a.lua", "--out", "{out}"), {"a.lua": b"return 1\n"}, True),
    "bench-output": (("bench", "--output", "{out}"), {}, True),
    "soak-report": (("soak", "--runs", "1", "--kinds", "clean", "--report", "{out}"), {}, True),
    "rehearse-state": (("rehearse", "--plan", "plan.json", "--state", "{out}"), {}, False),
    "monitor-log": (("monitor", "--port", REFUSED, "--log", "{out}"), {}, False),
}
KINDS = ["fifo", "directory", "link-to-fifo", "link-to-directory", "link-to-regular"]
KINDS += ["dangling-link"]
KINDS += ["chardev", "link-to-chardev"] if ROOT_USER else []


def _output_case(task: str, kind: str) -> DiskCase:
    args, files, needs_force = OUTPUT_TASKS[task]
    name = "out.bin"
    made = _node(kind, name)

    def extra(d: Path) -> tuple[str, ...]:
        made(d)
        return ()

    argv = tuple(name if a == "{out}" else a for a in args)
    if task == "download-out" and kind != "regular":
        argv += ("--force",)  # --force replaces regular files only
    if task == "rehearse-state":
        files = {**files, **catalog._plan_files(catalog._image(b"NodeMCU 3.0.0.0 \0"))}
    if kind == "regular":
        needles: tuple[str, ...] = ("exists", "--force")
    elif kind in ("link-to-regular", "dangling-link"):
        needles = ("symbolic link",)
    elif kind in ("directory", "link-to-directory"):
        needles = ("directory",)
    else:
        needles = ("not a regular file",) if task != "monitor-log" else (name,)
    return DiskCase(f"out-{task}-onto-{kind}", argv, needles, 2, files, extra=extra)


OUTPUTS = [_output_case(t, k) for t in OUTPUT_TASKS for k in KINDS]
OUTPUTS += [_output_case(t, "regular") for t, (_, _, force) in OUTPUT_TASKS.items() if force]
OUTPUTS += [
    DiskCase(  # Path() drops the slash: it wrote a file named like the directory
        "out-assemble-merged-trailing-slash",
        (*catalog.ASM, "--flash-size", "4MB", "--merged", "new/"),
        ("names a directory",),
        2,
        FW3,
    ),
    DiskCase(
        "out-read-flash-unknown-home",
        ("read-flash", "~no-such-user-here/x.bin", "--port", REFUSED),
        ("home directory",),
        2,
    ),
    DiskCase(  # /dev/stdout when stdout is a pipe
        "out-read-flash-proc-fd-link",
        ("read-flash", "/proc/self/fd/0", "--port", REFUSED),
        ("symbolic link",),
        2,
    ),
]


CATALOG: list[Case] = [*SETTINGS_FILES, *OPTIONS, *OUTPUTS]


def test_force_replaces_a_regular_output_but_never_a_link(tmp_path: Path) -> None:
    (tmp_path / "fw.bin").write_bytes(FW3["fw.bin"])
    (tmp_path / "merged.bin").write_bytes(b"old")
    proc = run_invoke(
        *catalog.ASM, "--flash-size", "4MB", "--merged", "merged.bin", "--force", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "merged.bin").read_bytes().startswith(b"\xe9")
    # A link is neither replaced (it may be a system's, like /dev/stdout when stdout is a file)
    # nor written through: refused with --force too, and so is a dangling one.
    (tmp_path / "theirs.bin").write_bytes(b"theirs")
    (tmp_path / "link.bin").symlink_to("theirs.bin")
    (tmp_path / "dangling.bin").symlink_to("nowhere.bin")
    for out in ("link.bin", "dangling.bin"):
        before = snapshot(tmp_path)
        proc = run_invoke(
            *catalog.ASM, "--flash-size", "4MB", "--merged", out, "--force", cwd=tmp_path
        )
        assert_one_line_error(proc, "symbolic link", code=2)
        assert changes(before, snapshot(tmp_path)) == []


def test_read_flash_replaces_a_file_only_with_force(board_url: str, tmp_path: Path) -> None:
    (tmp_path / "back.bin").write_bytes(b"old")
    args = ("read-flash", "back.bin", "--port", board_url, "--size", "0x1000")
    assert_one_line_error(run_invoke(*args, cwd=tmp_path), "exists", "--force", code=2)
    assert (tmp_path / "back.bin").read_bytes() == b"old"
    proc = run_invoke(*args, "--force", cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len((tmp_path / "back.bin").read_bytes()) == 0x1000


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("flag", ["--state", "--stats"])
def test_virtual_board_refuses_a_state_that_is_not_a_file(
    flag: str, kind: str, tmp_path: Path
) -> None:
    # It saves its flash (and statistics) at exit: refused at start, not replaced at the end.
    _node(kind, "out.bin")(tmp_path)
    before = snapshot(tmp_path)
    cmd = [sys.executable, "-m", "nodemcu_pipeline.virtual", flag, str(tmp_path / "out.bin")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert_one_line_error(proc, flag, code=2)
    assert changes(before, snapshot(tmp_path)) == []


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CATALOG])
def test_bad_input_fails_in_one_line_and_changes_nothing(
    case: Case, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    run_case(case, tmp_path, request)


def test_case_ids_are_unique_and_new() -> None:
    ids = [c.id for c in CATALOG]
    assert len(set(ids)) == len(ids)
    assert not set(ids) & {c.id for c in catalog.CATALOG}
