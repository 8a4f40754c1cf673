"""Start a host build confined: it may run its own program and use the descriptors it is handed
(the board's pipes, the flash and RTC memory files), and nothing else of the machine.

A host build is the user's tree compiled in the build container; the build container protects the
machine while the tree builds, and this does the same while its product runs on the virtual board:

* Landlock (Linux ≥ 5.13): no file or directory may be opened, created or removed, except reading
  and executing the program itself; TCP binds and connects are refused where the kernel can (ABI 4),
  and signals to processes outside the program where it can (ABI 6);
* seccomp: no socket can be made (for both the i386 and the x86-64 system-call tables, as a 32-bit
  program can switch to the other), no other process can be traced, signalled or read.

Both are set on a throwaway thread that then starts the process (they are per-thread and inherited
by children, and ``no_new_privs`` keeps them across ``execve``), so the board's own threads keep
every right and nothing runs between fork and exec. A kernel without Landlock or seccomp starts the
program unconfined and says so (``Spawned.unconfined``).
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SYS_LANDLOCK_CREATE_RULESET = 444  # the same numbers on x86-64 and i386
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_READ_FILE = 1 << 0, 1 << 2
# Every file-system right each Landlock ABI knows: handled (so denied unless a rule allows it).
FS_RIGHTS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
NET_TCP = 0b11  # bind and connect (ABI 4)
SCOPE_SIGNAL = 1 << 1  # (ABI 6)

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
# System calls refused with EPERM: making sockets, tracing, signalling or reading other processes.
DENIED = {
    AUDIT_ARCH_X86_64: (41, 53, 101, 62, 200, 234, 310, 311, 424, 434),
    AUDIT_ARCH_I386: (102, 359, 360, 26, 37, 238, 270, 347, 348, 424, 434),
}
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_KILL_PROCESS = 0x80000000


@dataclass
class Spawned:
    process: subprocess.Popen[bytes]
    unconfined: str | None  # why the program runs unconfined, or None


def spawn(args: list[str], program: Path, **popen: Any) -> Spawned:
    """``subprocess.Popen(args, **popen)`` from a thread that confined itself to ``program``."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["why"] = _confine(program)
            out["process"] = subprocess.Popen(args, **popen)
        except BaseException as exc:  # handed to the caller's thread
            out["error"] = exc

    worker = threading.Thread(target=run, name="host-confine", daemon=True)
    worker.start()
    worker.join()
    if "error" in out:
        raise out["error"]
    return Spawned(out["process"], out["why"])


def _confine(program: Path) -> str | None:
    libc = ctypes.CDLL(None, use_errno=True)
    if (
        libc.prctl(
            PR_SET_NO_NEW_PRIVS,
            ctypes.c_ulong(1),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
        )
        != 0
    ):
        return f"no_new_privs: {os.strerror(ctypes.get_errno())}"
    why = _seccomp(libc)
    landlock = _landlock(libc, program)
    return "; ".join(w for w in (why, landlock) if w) or None


def seccomp_program() -> list[bytes]:
    """The filter: per architecture, the DENIED calls get EPERM, the rest run; other
    architectures are killed. (Jump offsets count from the next instruction.)"""

    def stmt(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
        return struct.pack("<HBBI", code, jt, jf, k)

    ld, jeq, ret = 0x20, 0x15, 0x06  # BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K
    blocks = []
    for numbers in DENIED.values():
        body = [stmt(ld, 0)]  # seccomp_data.nr
        body += [stmt(jeq, nr, jt=len(numbers) - i) for i, nr in enumerate(numbers)]
        body += [stmt(ret, SECCOMP_RET_ALLOW), stmt(ret, SECCOMP_RET_ERRNO | errno.EPERM)]
        blocks.append(body)
    head = [stmt(ld, 4)]  # seccomp_data.arch
    start = 1 + len(DENIED) + 1  # after the arch tests and the kill
    for j, arch in enumerate(DENIED):
        here = 1 + j
        head.append(stmt(jeq, arch, jt=start - (here + 1)))
        start += len(blocks[j])
    head.append(stmt(ret, SECCOMP_RET_KILL_PROCESS))
    return head + [ins for body in blocks for ins in body]


def _seccomp(libc: Any) -> str | None:
    prog = seccomp_program()
    code = ctypes.create_string_buffer(b"".join(prog), 8 * len(prog))
    fprog = ctypes.create_string_buffer(struct.pack("<HxxxxxxQ", len(prog), ctypes.addressof(code)))
    mode = ctypes.c_ulong(SECCOMP_MODE_FILTER)
    if libc.prctl(PR_SET_SECCOMP, mode, fprog, ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
        return f"seccomp: {os.strerror(ctypes.get_errno())}"
    return None


def _landlock(libc: Any, program: Path) -> str | None:
    abi = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    if abi < 0:
        return f"Landlock: {os.strerror(ctypes.get_errno())}"
    fs = FS_RIGHTS[max(v for v in FS_RIGHTS if v <= abi)]
    attr = struct.pack("<QQQ", fs, NET_TCP if abi >= 4 else 0, SCOPE_SIGNAL if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    rules = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, attr[:size], size, 0)
    if rules < 0:
        return f"Landlock ruleset: {os.strerror(ctypes.get_errno())}"
    try:
        target = os.open(program, os.O_PATH | os.O_CLOEXEC)
        try:
            beneath = struct.pack("<Qi", FS_EXECUTE | FS_READ_FILE, target)  # packed struct
            if libc.syscall(SYS_LANDLOCK_ADD_RULE, rules, LANDLOCK_RULE_PATH_BENEATH, beneath, 0):
                return f"Landlock rule: {os.strerror(ctypes.get_errno())}"
        finally:
            os.close(target)
        if libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, rules, 0) != 0:
            return f"Landlock: {os.strerror(ctypes.get_errno())}"
    finally:
        os.close(rules)
    return None
