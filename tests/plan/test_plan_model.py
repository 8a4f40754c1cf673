import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodemcu_pipeline.errors import PlanError
from nodemcu_pipeline.firmware.image import example_image
from nodemcu_pipeline.firmware.layout import FLASH_SIZES, Generation, layout_for
from nodemcu_pipeline.plan.file import load_plan, write_plan
from nodemcu_pipeline.plan.model import (
    FlashPlan,
    Region,
    build_plan,
    merge,
    split_firmware,
    validate,
)
from tests.conftest import SHARED_DATA

INIT = b"\x05" + bytes(range(1, 128))


def split_pair(gen=Generation.NODEMCU3):
    a, b = example_image(gen)
    return split_firmware([("0x00000.bin", a), ("0x10000.bin", b)])


def test_sdk2_plan_adds_init_data_and_blank_sector():
    plan = build_plan(
        split_pair(Generation.SDK2), layout_for(FLASH_SIZES["4MB"], Generation.SDK2), INIT
    )
    got = {(r.address, r.purpose) for r in plan.regions}
    assert (0x3FC000, "init-data") in got and (0x3FE000, "blank") in got


def test_sdk2_without_init_data_is_refused():
    with pytest.raises(PlanError, match="rf_cal"):
        build_plan(split_pair(Generation.SDK2), layout_for(FLASH_SIZES["1MB"], Generation.SDK2))


def test_nodemcu3_refuses_init_data_at_the_old_address():
    with pytest.raises(PlanError, match="file system"):
        build_plan(
            split_pair(), layout_for(FLASH_SIZES["4MB"], Generation.NODEMCU3), INIT, 0x3FC000
        )


def test_init_data_at_wrong_address_or_bad_magic():
    layout = layout_for(FLASH_SIZES["4MB"], Generation.SDK2)
    with pytest.raises(PlanError, match="wrong address"):
        build_plan(split_pair(Generation.SDK2), layout, INIT, 0xFC000)
    with pytest.raises(PlanError, match="0x05"):
        build_plan(split_pair(Generation.SDK2), layout, b"\xff" * 128)


def test_header_of_region_at_zero_carries_the_flash_size():
    plan = build_plan(split_pair(), layout_for(FLASH_SIZES["4MB"], Generation.NODEMCU3))
    assert plan.regions[0].data[3] & 0xF0 == 0x40


def test_combined_image_padding_over_phy_data_is_allowed_with_a_note():
    a, b = example_image()
    combined = a + b"\xff" * (0x10000 - len(a)) + b
    plan = build_plan(
        split_firmware([("nodemcu.bin", combined)]),
        layout_for(FLASH_SIZES["4MB"], Generation.NODEMCU3),
    )
    assert plan.notes


def test_firmware_over_system_params_is_refused():
    a, _ = example_image(Generation.SDK2)
    big = Region(0x10000, b"\x00" * (0xFB000 - 0x10000 + 0x1000), "firmware", "0x10000.bin")
    with pytest.raises(PlanError, match="overwrites"):
        build_plan(
            [Region(0, a, "firmware")] + [big],
            layout_for(FLASH_SIZES["1MB"], Generation.SDK2),
            INIT,
        )


def test_plan_json_round_trip_and_tamper_detection(tmp_path):
    plan = build_plan(split_pair(), layout_for(FLASH_SIZES["2MB"], Generation.NODEMCU3))
    path = write_plan(plan, tmp_path)
    doc = json.loads(path.read_text())
    assert doc["flash_size"] == "2MB" and set(doc["regions"][0]) >= {
        "address",
        "size",
        "sha256",
        "purpose",
        "file",
    }
    assert load_plan(path).regions == tuple(
        Region(r.address, r.data, r.purpose, f["file"])
        for r, f in zip(plan.regions, doc["regions"], strict=True)
    )
    (tmp_path / doc["regions"][1]["file"]).write_bytes(b"changed")
    with pytest.raises(PlanError, match="changed"):
        load_plan(path)


region = st.builds(
    lambda a, n: Region(a * 4, b"\x00" * n, "firmware"),
    st.integers(0, 0x100000 // 4),
    st.integers(1, 0x8000),
)


@settings(max_examples=300)
@given(st.lists(region, min_size=1, max_size=6), st.sampled_from(["512KB", "1MB", "2MB"]))
def test_accepted_plans_fit_and_never_overlap(regions, size):
    plan = FlashPlan(size, "keep", "keep", tuple(regions))
    try:
        validate(plan)
    except PlanError as exc:
        assert "\n" not in exc.line() and exc.line().startswith("error: ")
        return
    ordered = sorted(regions, key=lambda r: r.address)
    assert all(r.end <= FLASH_SIZES[size].size_bytes for r in ordered)
    assert all(a.end <= b.address for a, b in zip(ordered, ordered[1:], strict=False))


MERGE_CASES = [
    (size, mode, shape)
    for size in ("1MB", "2MB", "4MB", "16MB")
    for mode, shape in (("dio", "split"), ("qio", "combined"), ("dout", "split"))
]


@pytest.mark.parametrize(
    "size,mode,shape", MERGE_CASES + [("512KB", "qio", "sdk2"), ("4MB", "dio", "sdk2")]
)
def test_merge_equals_esptool_merge_bin(tmp_path, size, mode, shape):
    gen = Generation.SDK2 if shape == "sdk2" else Generation.NODEMCU3
    a, b = example_image(gen)
    if shape == "combined":
        files = [("nodemcu_float.bin", a + b"\xff" * (0x10000 - len(a)) + b)]
    else:
        files = [("0x00000.bin", a), ("0x10000.bin", b)]
    init = (
        (SHARED_DATA / "esp_init_data_default_v05.bin").read_bytes()
        if gen is Generation.SDK2
        else None
    )
    plan = build_plan(
        split_firmware(files), layout_for(FLASH_SIZES[size], gen), init, flash_mode=mode
    )
    originals = {r.address: r.data for r in split_firmware(files)}  # unpatched: esptool patches 0x0
    args = []
    for r in plan.regions:
        src = tmp_path / f"in-{r.address:x}.bin"
        src.write_bytes(originals.get(r.address, r.data))
        args += [hex(r.address), str(src)]
    out = tmp_path / "esptool.bin"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "esptool",
            "--chip",
            "esp8266",
            "merge-bin",
            "-o",
            str(out),
            "--flash-size",
            size,
            "--flash-mode",
            mode,
            *args,
        ],
        check=True,
        capture_output=True,
    )
    assert merge(plan) == out.read_bytes()


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(list(Generation)),
    st.sampled_from(["256KB", "512KB", "1MB", "2MB"]),
    st.integers(1, 0x110000 // 4),
    st.booleans(),
    st.sampled_from([None, 0x7C000, 0xFC000, 0x1FC000, 0x3FC000]),
)
def test_every_accepted_build_plan_fits_and_keeps_off_reserved_areas(
    gen, size, irom_words, with_init, init_at
):
    from nodemcu_pipeline.errors import PipelineError

    a, _ = example_image(gen)
    regions = split_firmware([("0x00000.bin", a), ("0x10000.bin", b"\x11" * (irom_words * 4))])
    try:
        layout = layout_for(FLASH_SIZES[size], gen)
        plan = build_plan(regions, layout, INIT if with_init else None, init_at)
    except PipelineError as exc:
        assert "\n" not in exc.line() and exc.line().startswith("error: ")
        return
    ordered = sorted(plan.regions, key=lambda r: r.address)
    assert ordered[-1].end <= FLASH_SIZES[size].size_bytes
    assert all(x.end <= y.address for x, y in zip(ordered, ordered[1:], strict=False))
    for r in ordered:
        if r.purpose != "firmware":
            assert r.address % 0x1000 == 0
            continue
        for start, end, _name in layout.reserved():
            lo, hi = max(start, r.address), min(end, r.end)
            assert lo >= hi or r.data[lo - r.address : hi - r.address].count(0xFF) == hi - lo


def test_added_regions_must_be_sector_aligned():
    plan = FlashPlan("1MB", "keep", "keep", (Region(0xFC800, INIT, "init-data"),))
    with pytest.raises(PlanError, match="sector boundary"):
        validate(plan)


# --- a loaded plan is an input: validated as strictly as a built one (issue 16 item 9) -------------
def _sdk2_plan_dir(tmp_path):
    """A plan.json as `invoke assemble` writes it (SDK 2 on 1MB: 0x0, 0x10000, init data, blank)."""
    plan = build_plan(
        split_pair(Generation.SDK2), layout_for(FLASH_SIZES["1MB"], Generation.SDK2), INIT
    )
    build = tmp_path / "build"
    return write_plan(plan, build)


def _edit(path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _region_file(path, data, name="evil.bin"):
    (path.parent / "plan" / name).write_bytes(data)
    return f"plan/{name}"


def _set_region(index, **fields):
    def change(doc):
        doc["regions"][index].update(fields)

    return change


def _retarget(index, make_file):
    """Point region ``index`` at another file (with that file's true size and sum)."""

    def change_for(path):
        file, data = make_file(path)

        def change(doc):
            doc["regions"][index].update(
                file=file, size=len(data), sha256=hashlib.sha256(data).hexdigest()
            )

        return change

    return change_for


def _outside_abs(path):
    outside = path.parent.parent / "secret.bin"
    outside.write_bytes(b"\x05" + b"s" * 127)
    return str(outside), outside.read_bytes()


def _outside_dotdot(path):
    file, data = _outside_abs(path)
    return "../secret.bin", data


def _etc_passwd(path):
    return "/etc/passwd", Path("/etc/passwd").read_bytes()


def _symlink_out(path):
    file, data = _outside_abs(path)
    (path.parent / "plan" / "link.bin").symlink_to(file)
    return "plan/link.bin", data


def _init_200(path):
    data = b"\x05" * 200
    return _region_file(path, data), data


def _device(path):
    return "/dev/zero", bytes(128)


BAD_LOADED_PLANS = {
    "no regions": (lambda p: lambda d: d.update(regions=[]), "no regions"),
    "regions not a list": (lambda p: lambda d: d.update(regions={"a": 1}), "regions"),
    "fractional address": (lambda p: _set_region(0, address=0.5), "address"),
    "negative address": (lambda p: _set_region(3, address=-4096), "address"),
    "address as text": (lambda p: _set_region(0, address="0"), "address"),
    "address as bool": (lambda p: _set_region(0, address=False), "address"),
    "huge address": (lambda p: _set_region(3, address=2**40), "address"),
    "unaligned blank": (lambda p: _set_region(3, address=0xFE004), "sector"),
    "overlap": (lambda p: _set_region(3, address=0xFC000), "overlap"),
    "beyond flash": (lambda p: lambda d: d.update(flash_size="512KB"), "beyond"),
    "absolute file outside": (_retarget(2, _outside_abs), "outside"),
    "dotdot file outside": (_retarget(2, _outside_dotdot), "outside"),
    "etc passwd with its true sum": (_retarget(2, _etc_passwd), "outside"),
    "symlink out": (_retarget(2, _symlink_out), "outside"),
    "device file": (_retarget(2, _device), "outside"),
    "200-byte init data": (_retarget(2, _init_200), "128"),
    "sum mismatch": (lambda p: _set_region(0, sha256="0" * 64), "sha-256"),
    "sum not hex": (lambda p: _set_region(0, sha256="zz"), "sha-256"),
    "size mismatch": (lambda p: _set_region(2, size=129), "size"),
    "unknown key": (lambda p: lambda d: d.update(erase_all=True), "erase_all"),
    "unknown region key": (lambda p: _set_region(0, execute="rm -rf"), "execute"),
    "unknown purpose": (lambda p: _set_region(3, purpose="bootloader"), "purpose"),
    "missing file key": (lambda p: lambda d: d["regions"][0].pop("file"), "file"),
    "flash size unknown": (lambda p: lambda d: d.update(flash_size="3MB"), "flash size"),
    "flash size not text": (lambda p: lambda d: d.update(flash_size=4), "flash size"),
    "flash mode unknown": (lambda p: lambda d: d.update(flash_mode="fast"), "mode"),
    "flash freq unknown": (lambda p: lambda d: d.update(flash_freq="99m"), "freq"),
    "layout unknown": (lambda p: lambda d: d.update(layout="sdk9"), "layout"),
    "notes not text": (lambda p: lambda d: d.update(notes=[1]), "notes"),
    "not an object": (lambda p: lambda d: d.clear() or d.update(x=1), "x"),
    "no image at zero": (lambda p: lambda d: d["regions"].pop(0), "0x0"),
    "blank not blank": (
        _retarget(3, lambda p: (_region_file(p, b"\x00" * 4096), b"\x00" * 4096)),
        "blank",
    ),
    "sdk2 without init data": (lambda p: lambda d: d["regions"].pop(2), "init-data"),
}


@pytest.mark.parametrize("case", sorted(BAD_LOADED_PLANS))
def test_a_bad_loaded_plan_is_refused_in_one_line(tmp_path, case):
    path = _sdk2_plan_dir(tmp_path)
    load_plan(path)  # the untouched plan loads
    make_change, needle = BAD_LOADED_PLANS[case]
    _edit(path, make_change(path))
    with pytest.raises(PlanError) as err:
        load_plan(path)
    line = err.value.line()
    assert "\n" not in line and needle.lower() in line.lower(), line


def test_a_plan_not_an_object_is_refused(tmp_path):
    path = tmp_path / "plan.json"
    for text in ("[1, 2]", "null", '"plan"', "{not json"):
        path.write_text(text)
        with pytest.raises(PlanError, match="not a valid plan"):
            load_plan(path)


def test_a_plan_inside_its_directory_loads_with_absolute_names(tmp_path):
    # Hand-written plans (the soak's) name their files absolutely inside the plan's directory.
    path = _sdk2_plan_dir(tmp_path)
    _edit(path, lambda d: [r.update(file=str(path.parent / r["file"])) for r in d["regions"]])
    assert len(load_plan(path).regions) == 4


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["1MB", "dio", "40m", "sdk2", "firmware", "init-data", "blank", "../x", "/"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_any_edit_of_a_plan_loads_or_is_one_plan_error(tmp_path_factory, data):
    # Whatever a hand edit does to plan.json, loading ends in a plan or one PlanError line, never
    # another exception (which the task would report as "unexpected failure").
    tmp = tmp_path_factory.mktemp("fuzz")
    path = _sdk2_plan_dir(tmp)
    doc = json.loads(path.read_text())
    where = data.draw(st.sampled_from(list(_paths(doc))))
    value = data.draw(json_values)
    if where:
        target = doc
        for key in where[:-1]:
            target = target[key]
        target[where[-1]] = value
    else:
        doc = value
    path.write_text(json.dumps(doc))
    try:
        load_plan(path)
    except PlanError as exc:
        assert "\n" not in exc.line()
