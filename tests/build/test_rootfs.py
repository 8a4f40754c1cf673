"""The root file system tools' output as progress: mmdebstrap's phases, debootstrap's packages."""

from __future__ import annotations

from nodemcu_pipeline.build.rootfs import MMDEBSTRAP_PHASES, PackageCount, mmdebstrap_progress

# mmdebstrap 1.3.5's own lines for docker/rootfs.conf (bookworm, minbase, root mode).
MMDEBSTRAP_RUN = """\
I: automatically chosen mode: root
I: chroot architecture amd64 is equal to the host's architecture
I: finding correct signed-by value...
I: automatically chosen format: tar
I: using /tmp/mmdebstrap.sGAxitbSq6 as tempdir
I: running apt-get update...
I: downloading packages with apt...
I: extracting archives...
I: installing essential packages...
I: installing remaining packages inside the chroot...
I: cleaning package lists and apt cache...
I: creating tarball...
I: done
I: removing tempdir /tmp/mmdebstrap.sGAxitbSq6...
I: success in 36.2513 seconds
"""


def test_mmdebstraps_phases_are_steps_of_a_known_total() -> None:
    events = [e for line in MMDEBSTRAP_RUN.splitlines() if (e := mmdebstrap_progress(line))]
    assert [e.phase for e in events] == list(MMDEBSTRAP_PHASES)
    assert [e.done for e in events] == list(range(len(MMDEBSTRAP_PHASES)))
    assert {e.total for e in events} == {len(MMDEBSTRAP_PHASES)}
    assert mmdebstrap_progress("E: the mirror said: running apt-get update") is None


def test_debootstraps_packages_are_counted_against_those_retrieved() -> None:
    count = PackageCount()
    lines = [f"I: Retrieving pkg{i} 1.0" for i in range(3)]
    lines += ["I: Validating pkg0 1.0", "I: Checking component main on http://deb"]
    lines += [f"I: Unpacking pkg{i}..." for i in range(2)] + ["I: Configuring pkg0..."]
    events = [e for line in lines if (e := count.feed(line))]
    assert [(e.phase, e.done, e.total) for e in events] == [
        ("retrieving", 1, None),
        ("retrieving", 2, None),
        ("retrieving", 3, None),
        ("validating", 1, None),
        ("unpacking", 1, 3),
        ("unpacking", 2, 3),
        ("configuring", 1, 3),
    ]
