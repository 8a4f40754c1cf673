"""The flasher's plain-function API: connect, flash a plan, erase, read, chip info.

Each takes the port first and its options as one frozen record (``FlashOptions``, ``ConnectOptions``),
whose fields say what the flash may do (Zephyr's ``RunnerCaps``), never what it must skip; tasks, the
farm and the chain call these with their own ``say`` and ``progress`` callbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import serial

from nodemcu_pipeline.atomic import atomic_write_bytes
from nodemcu_pipeline.errors import (
    FilesWouldBeLost,
    FlashError,
    FlashInterrupted,
    OutsideDamage,
    PipelineError,
    PlanError,
    ProtocolError,
)
from nodemcu_pipeline.firmware.layout import FLASH_MODES, FLASH_SIZES, MB
from nodemcu_pipeline.flasher import diff
from nodemcu_pipeline.flasher.board_fs import ChipReads, keep_files
from nodemcu_pipeline.flasher.board_state import BoardState
from nodemcu_pipeline.flasher.outside import OutsideGuard, OutsideVerdict, describe, footprint
from nodemcu_pipeline.flasher.session import FIRMWARE_BAUD, ChipInfo, Session, flash_size_name
from nodemcu_pipeline.flasher.write import Capabilities, RegionResult, prefetch, write_plan
from nodemcu_pipeline.link.ports import resolve_port
from nodemcu_pipeline.plan.model import FlashPlan
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress

Say = Callable[[str], None]


def quiet(text: str) -> None:
    """A ``say`` that drops the notes."""


@dataclass(frozen=True, kw_only=True)
class ConnectOptions:
    """How to reach the loader: the rate to talk at once connected (the stub's, or the ROM's after a
    baud change), the rate the ROM is synced at (None: auto), and how to reset it into the loader."""

    baud: int = 460800
    rom_baud: int | None = None
    before: str = "auto"


@dataclass(frozen=True, kw_only=True)
class FlashOptions:
    """What one flash may do. ``stub``: upload the flasher stub (compression, MD5 verification);
    ``verify``: MD5-check each written region; ``erase_all``: erase the whole chip first;
    ``outside_proof``: hash the few places a line error could move each write to (outside.py),
    so a doubtful write can be located and proven harmless; ``allow_file_loss`` (``--yes``): write even when the board's files would be lost (a
    firmware that moves or overwrites its file system); ``leave_reset_to_check``: the REPL check
    that follows does the hard reset."""

    baud: int = 460800
    rom_baud: int | None = None
    before: str = "auto"
    after: str = "hard-reset"
    stub: bool = True
    verify: bool = True
    erase_all: bool = False
    outside_proof: bool = True
    allow_file_loss: bool = False
    leave_reset_to_check: bool = False

    @property
    def connect(self) -> ConnectOptions:
        return ConnectOptions(baud=self.baud, rom_baud=self.rom_baud, before=self.before)


@dataclass
class FlashReport:
    info: ChipInfo
    baud: int
    stub: bool
    results: list[RegionResult] = field(default_factory=list)
    reset: bool = False
    outside: OutsideVerdict | None = None
    anomalies: list[str] = field(default_factory=list)
    # What looking for the board's files cost (board_fs.py): None when it was not looked for.
    files_check: ChipReads | None = None
    # With leave_reset_to_check on a port without reset lines: the port, open at the firmware's rate
    # right after the soft reset, for the REPL check to read the first boot on (and then close).
    handover: serial.SerialBase | None = None


def open_session(
    port: str,
    options: ConnectOptions,
    *,
    stub: bool,
    say: Say = quiet,
    after_connect: Callable[[Session], None] = lambda session: None,
) -> Session:
    """Connect (syncing the ROM at ``options.rom_baud``, None: auto), start the stub when ``stub``
    allows it and it is available, and switch to ``options.baud``."""
    baud = options.baud
    session = Session(resolve_port(port), baud, options.before, say, options.rom_baud)
    try:
        say(f"connecting to {session.url}…")
        session.connect()
        after_connect(session)
        if stub and not _resuming(session, session.run_stub, "uploading the stub again", say):
            say(
                "stub not available: the ROM cannot verify what it writes; install the `stub` extra"
            )
        session.target_baud = session.change_baud(baud)
    except BaseException:
        session.close()
        raise
    return session


class PlanFor(Protocol):
    """The plan for a detected flash size; an ESP8285 may want its header's mode set to DOUT."""

    def __call__(self, size: str, /, *, esp8285: bool = False) -> FlashPlan: ...


def fixed_plan(plan: FlashPlan) -> PlanFor:
    """The same plan whatever the board reports (a rehearsal's plan, one read from plan.json)."""

    def plan_for(size: str, *, esp8285: bool = False) -> FlashPlan:
        return plan

    return plan_for


def flash(
    port: str,
    plan_for: PlanFor,
    options: FlashOptions = FlashOptions(),
    *,
    say: Say = quiet,
    progress: ProgressCallback = null_progress,
    identified: Callable[[ChipInfo], None] = lambda info: None,
) -> FlashReport:
    """Connect, build the plan for the detected flash size (``plan_for(size)``), write, verify, reset.

    ``identified`` sees the chip (its MAC) before anything is planned or written; an error it raises
    refuses the board, which is then started again as ``options.after`` says (a farm that met the
    board under another port has flashed it already).

    Before the first write the board's files are looked for (board_fs.py): a plan that would move
    or overwrite a file system that lists files raises FilesWouldBeLost, unless
    ``options.allow_file_loss`` (``--yes``) or ``options.erase_all`` (which erases them anyway, as
    asked).

    With ``options.leave_reset_to_check`` and a port that drives the reset lines, the hard reset is
    left to the REPL check, which then sees the whole first boot (partition setup, file-system
    format). Without the lines, the firmware is started here and the open port handed over
    (``report.handover``): the caller passes it to ``check_after_flash(handover=...)``, which
    closes it.
    """
    early: list[FlashPlan] = []

    def plan_early(session: Session) -> None:
        # The chip is known before the stub upload: plan now and compress while the stub goes up.
        assert session.info is not None
        detected = flash_size_name(session.info)
        # Which chip this is, before the long work: a farm's live view shows each board's MAC.
        chip = f"ESP8266 {session.info.mac} 0x{session.info.chip_id:08x} {detected}"
        progress(ProgressEvent("connect", chip, 1, 1, "done"))
        try:
            identified(session.info)
        except PipelineError:
            _leave_running(session, options.after)
            raise
        # Only an ESP8285 passes the flag, so a plain ``lambda size: plan`` stays a valid source.
        plan = plan_for(detected, esp8285=True) if session.info.esp8285 else plan_for(detected)
        if session.info.esp8285 and header_mode(plan) != "dout":
            # NodeMCU's flashing page: ESP8285 boards need DOUT, or the firmware hangs at boot.
            say(
                f"this is an ESP8285, whose flash is wired for DOUT, but the image header says "
                f"{header_mode(plan)}: pass --flash-mode dout"
            )
        early.append(plan)
        if options.stub:
            prefetch(early[0])

    connected = open_session(
        port, options.connect, stub=options.stub, say=say, after_connect=plan_early
    )
    with connected as session:
        assert session.info is not None
        detected = flash_size_name(session.info)
        plan = early[0]
        if plan.size_bytes > FLASH_SIZES[detected].size_bytes:
            raise PlanError(
                f"the plan is for {plan.flash_size} flash but the board has {detected}",
                f"Assemble again with --flash-size {detected}",
            )
        files_check = None
        if not (options.erase_all or options.allow_file_loss):
            try:
                files_check = _keep_files(session, plan, detected, say)
            except FilesWouldBeLost:
                # Nothing was written: back to the firmware, so `invoke download` finds its prompt.
                _leave_running(session, options.after)
                raise
        report = FlashReport(session.info, session.target_baud, session.stub)
        report.files_check = files_check
        caps = Capabilities.for_session(session, verify=options.verify)
        report.results, report.outside = _write_guarded(
            session, plan, caps, options, say=say, progress=progress
        )
        report.anomalies = list(session.anomalies)
        lines = session.lines_supported()
        after = options.after
        if after == "hard-reset" and not (options.leave_reset_to_check and lines):
            if lines and session.hard_reset():
                report.reset = True
            else:
                say("the port cannot drive RTS: starting the firmware with a soft reset")
                if options.leave_reset_to_check:
                    report.handover = session.start_firmware_here(FIRMWARE_BAUD)
                else:
                    session.soft_reset()
                report.reset = True
        elif after == "soft-reset":
            session.soft_reset()
            report.reset = True
        return report


def _within_any_flash(address: int, size: int | None) -> None:
    """Refuse, before connecting, a range no ESP8266 flash holds (``size`` None: to its end); the
    board's own size is checked once it is detected."""
    largest = max(f.size_bytes for f in FLASH_SIZES.values())
    end = address + (size if size is not None else 1)
    if address < 0 or end > largest:
        where = f"0x{address:x}" + (f"+0x{size:x}" if size is not None else "")
        raise PlanError(
            f"{where} is beyond the largest ESP8266 flash ({largest // MB} MB)",
            f"Use addresses inside 0x0..0x{largest:x}",
        )


def _leave_running(session: Session, after: str) -> None:
    """Start the firmware of a board the flasher put in its loader and then refused."""
    if after == "no-reset":
        return
    with suppress(PipelineError, OSError, serial.SerialException):
        if not (session.lines_supported() and session.hard_reset()):
            session.soft_reset()


def header_mode(plan: FlashPlan) -> str:
    """The SPI mode in the header of the plan's image at 0x0 (byte 2), as its name."""
    boot = next((r.data for r in plan.regions if r.address == 0 and len(r.data) > 2), None)
    names = {code: name for name, code in FLASH_MODES.items()}
    return names.get(boot[2], f"0x{boot[2]:02x}") if boot else "unknown"


def _keep_files(session: Session, plan: FlashPlan, detected: str, say: Say) -> ChipReads | None:
    if not session.stub:
        say("the ROM cannot read flash: not checking whether this flash loses the board's files")
        return None
    chip = FLASH_SIZES[detected].size_bytes
    return _resuming(
        session,
        lambda: keep_files(session.read_flash, plan, chip, say),
        "looking for the board's files again",
        say,
    )


def _write_guarded(
    session: Session,
    plan: FlashPlan,
    caps: Capabilities,
    options: FlashOptions,
    *,
    say: Say,
    progress: ProgressCallback,
) -> tuple[list[RegionResult], OutsideVerdict | None]:
    """Write the plan while tracking each region's state (for an interrupted flash's last words) and
    guarding the flash outside the plan (outside.py); raise OutsideDamage unless that proof holds."""
    assert session.info is not None
    detected = flash_size_name(session.info)
    erase_all = options.erase_all
    state = BoardState([(r.address, len(r.data)) for r in plan.regions], caps.verify)
    spans = footprint((r.address, len(r.data)) for r in plan.regions)
    owned = list(diff.firmware_owned(plan))
    chip = FLASH_SIZES[detected].size_bytes
    hasher = session.md5 if caps.verify else None
    guard = (
        None
        if erase_all
        else OutsideGuard(chip, spans, owned, baseline=options.outside_proof, hasher=hasher)
    )

    def before_write(op: int, data: bytes) -> None:
        state.command(op, data)
        if guard is not None:
            guard.arm(hasher, session.hazards, noisy=bool(session.anomalies))

    def tracked(event: ProgressEvent) -> None:
        state.progress(event)
        progress(event)

    session.before_write = before_write
    try:
        if erase_all:
            sectors = FLASH_SIZES[detected].size_bytes // 0x1000
            progress(ProgressEvent("erase", "whole flash", 0, sectors, "erasing", "sectors"))
            session.erase_flash()
            progress(ProgressEvent("erase", "whole flash", sectors, sectors, "done", "sectors"))
        results = _resuming(
            session, lambda: write_plan(session, plan, caps, tracked, ledger=guard), "resuming", say
        )
        verdict = (
            guard.verdict(hasher, session.anomalies, session.hazards, rebooted=session.resets > 0)
            if guard
            else None
        )
    except KeyboardInterrupt:
        raise FlashInterrupted(state.summary()) from None
    except PipelineError as exc:
        hint = exc.hint[:1].lower() + exc.hint[1:]
        exc.hint = f"{state.summary()}; {hint}" if hint else state.summary()
        raise
    finally:
        session.before_write = None
    if verdict is not None and not verdict.proven:
        raise _outside_error(verdict, verified=caps.verify, proof=options.outside_proof)
    return results, verdict


def _outside_error(verdict: OutsideVerdict, *, verified: bool, proof: bool) -> OutsideDamage:
    done = "The plan's regions are written" + (" and verified" if verified else "")
    if verdict.changed:
        also = (
            f"; it cannot vouch for {describe(verdict.unvouched)} either (erased, or blank before)"
            if verdict.unvouched
            else ""
        )
        return OutsideDamage(
            f"line errors during the flash changed flash outside the plan within "
            f"{describe(verdict.changed)}"
            + (f" ({verdict.reason})" if verdict.reason else "")
            + also,
            f"{done}; restore those ranges from a backup (e.g. upload the file system again) "
            "and use a shorter cable or a lower --baud",
        )
    again = "with the stub on a better link" if proof else "without --no-outside-proof"
    return OutsideDamage(
        f"line errors during the flash, and flash outside the plan cannot be proven unchanged "
        f"({verdict.reason}): {describe(verdict.unvouched)}",
        f"{done}; check those ranges (e.g. the file system), or flash again {again}",
    )


# A chip lost mid-flash (brown-out, a glitch on the reset line) restarts from flash, and a noisy link
# can fail a 6 KB stub block three times running; with reset lines we can put the chip back into the
# loader and carry on: upload the stub again, or rewrite what does not verify yet. A step that failed
# on line errors alone (the chip still answers SYNC) is simply run again.
RESUMES = 4


T = TypeVar("T")


def _resuming(session: Session, step: Callable[[], T], doing: str, say: Say) -> T:
    """Run ``step``; when it fails, get the chip back (reset, or just resync) and run it again."""
    attempt = 0
    while True:
        try:
            return step()
        except (FlashError, ProtocolError) as exc:
            session.anomalies.append(exc.message)
            if attempt == RESUMES:
                raise
            attempt += 1
            if session.lines_supported():
                say(f"{exc.message}: resetting the chip into the loader and {doing}")
                try:
                    session.reconnect()
                except PipelineError:
                    raise exc from None
                continue
            had_stub = session.stub
            if not session.sync() or session.stub != had_stub:
                raise
            say(f"{exc.message}: {doing}")


def chip_info(port: str, *, before: str = "auto", say: Say = quiet) -> ChipInfo:
    """The chip's MAC, chip id, JEDEC flash id and flash size, from the ROM alone."""
    with open_session(
        port, ConnectOptions(baud=115200, before=before), stub=False, say=say
    ) as session:
        assert session.info is not None
        return session.info


def erase(
    port: str,
    region: tuple[int, int] | None = None,
    options: ConnectOptions = ConnectOptions(),
    *,
    say: Say = quiet,
) -> int:
    """Erase ``region`` (address, size) or the whole chip; returns the bytes erased."""
    if region is not None:
        _within_any_flash(*region)
    with open_session(port, options, stub=True, say=say) as session:
        assert session.info is not None
        total = FLASH_SIZES[flash_size_name(session.info)].size_bytes
        if region is not None and region[0] + region[1] > total:
            raise PlanError(
                f"0x{region[0]:x}+0x{region[1]:x} reaches past the end of the {total // 1024} KB flash",
                f"Erase inside 0x0..0x{total:x}",
            )
        if region is None:
            session.erase_flash()
            return total
        session.erase_region(*region)
        return region[1]


def read_flash(
    port: str,
    region: tuple[int, int | None],
    out: Path,
    options: ConnectOptions = ConnectOptions(),
    *,
    say: Say = quiet,
    progress: ProgressCallback = null_progress,
) -> None:
    """Read ``region`` (address, size; size None: to the end of the flash) into the file ``out``,
    written atomically (needs the stub)."""
    address, size = region
    if size is not None and size <= 0:
        raise PlanError(f"a read of {size} bytes reads nothing", "Read at least one byte")
    _within_any_flash(address, size)
    with open_session(port, options, stub=True, say=say) as session:
        assert session.info is not None
        total = FLASH_SIZES[flash_size_name(session.info)].size_bytes
        if address >= total:
            raise PlanError(
                f"0x{address:x} is beyond the {total // 1024} KB flash",
                f"Read inside 0x0..0x{total:x}",
            )
        if size is None:
            size = total - address
        if address < 0 or size <= 0 or address + size > total:
            raise PlanError(
                f"0x{address:x}+0x{size:x} is beyond the {total // 1024} KB flash",
                "Read inside the flash",
            )
        data = session.read_flash(
            address, size, lambda n: progress(ProgressEvent("read", str(out), n, size))
        )
    atomic_write_bytes(out, data)
