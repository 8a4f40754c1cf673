"""A host build runs confined (virtual/host_confine.py): its own program and the descriptors it is
handed, no other file, no socket, no other process; the board's own threads keep their rights."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.virtual import host_confine
from nodemcu_pipeline.virtual.host_confine import DENIED, seccomp_program, spawn

PROBE = r"""
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static void say(const char *what, int r) { printf("%s %s\n", what, r < 0 ? strerror(errno) : "ok"); }
int main(int argc, char **argv) {
  char buf[8];
  say("handed", (int)read(atoi(argv[2]), buf, sizeof buf));
  say("read", open("/etc/hostname", O_RDONLY));
  say("create", open(argv[1], O_WRONLY | O_CREAT, 0644));
  say("socket", socket(AF_INET, SOCK_STREAM, 0));
  say("signal", kill(getppid(), 0));
  char *sh[] = {"/bin/sh", "-c", "true", 0};
  execv(sh[0], sh);
  say("exec", -1);
  return 0;
}
"""


def run_filter(arch: int, nr: int) -> int:
    """The seccomp program run on (arch, nr), as the kernel's BPF interpreter would."""
    prog = [struct.unpack("<HBBI", ins) for ins in seccomp_program()]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = prog[pc]
        if code == 0x20:
            acc = arch if k == 4 else nr
            pc += 1
        elif code == 0x15:
            pc += 1 + (jt if acc == k else jf)
        else:
            return k


@given(st.sampled_from(list(DENIED)), st.integers(min_value=0, max_value=500))
def test_the_filter_refuses_exactly_the_denied_calls(arch: int, nr: int) -> None:
    verdict = run_filter(arch, nr)
    if nr in DENIED[arch]:
        assert verdict == host_confine.SECCOMP_RET_ERRNO | 1  # EPERM
    else:
        assert verdict == host_confine.SECCOMP_RET_ALLOW


def test_another_architecture_is_killed() -> None:
    assert run_filter(0xC00000B7, 63) == host_confine.SECCOMP_RET_KILL_PROCESS  # aarch64 read


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build a static probe")
def test_a_confined_program_has_its_descriptors_and_nothing_else(tmp_path: Path) -> None:
    source = tmp_path / "probe.c"
    source.write_text(PROBE)
    probe = tmp_path / "probe"
    made = subprocess.run(["gcc", "-static", "-o", str(probe), str(source)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("no static C library to build the probe with")
    handed = os.memfd_create("handed")  # as the board hands its flash over
    os.write(handed, b"flash")
    os.lseek(handed, 0, os.SEEK_SET)
    target = tmp_path / "planted.txt"
    try:
        spawned = spawn(
            [str(probe), str(target), str(handed)],
            probe,
            stdout=subprocess.PIPE,
            pass_fds=(handed,),
        )
        out = spawned.process.communicate(timeout=30)[0].decode()
    finally:
        os.close(handed)
    if spawned.unconfined:
        pytest.skip(f"this kernel cannot confine: {spawned.unconfined}")
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert lines["handed"] == "ok", out
    assert lines["read"] == lines["create"] == lines["exec"] == "Permission denied", out
    assert lines["socket"] == lines["signal"] == "Operation not permitted", out
    assert not target.exists()
    assert Path("/etc/hostname").read_text()  # the board's own threads keep their rights
