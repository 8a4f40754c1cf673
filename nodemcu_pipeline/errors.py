"""The PipelineError tree.

Every failure a user can cause or meet is one of these: a one-line message saying what is wrong and a
hint saying how to fix it. Tasks print ``error: <message>. <hint>`` and exit 1 (2 for bad usage).
"""

from __future__ import annotations


class PipelineError(Exception):
    """A failure with a one-line explanation and a fix for the user."""

    exit_code = 1
    default_hint = ""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message.rstrip(". ")
        self.hint = hint or self.default_hint

    def line(self) -> str:
        """The single line printed to stderr: ``error: <what>. <hint>``."""
        text = f"error: {self.message}."
        if self.hint:
            text += f" {self.hint.rstrip('.')}."
        return " ".join(text.split())

    def __str__(self) -> str:
        return self.line()


class UsageError(PipelineError):
    """The command line itself is wrong (unknown value, missing argument)."""

    exit_code = 2


# --- layout, image, plan -------------------------------------------------------------------------
class LayoutError(PipelineError):
    """Flash size / firmware generation combination that cannot work."""


class ImageError(PipelineError):
    """A firmware image that is not a valid ESP8266 image."""


class PlanError(PipelineError):
    """A flash plan that would not fit, overlaps, or overwrites something it must not."""


# --- serial flasher ------------------------------------------------------------------------------
class SerialPortError(PipelineError):
    """The serial port is missing, busy, or not permitted."""


class SyncError(PipelineError):
    """The chip never answered the loader's SYNC."""


class ProtocolError(PipelineError):
    """The chip answered with an error status or an unexpected packet."""


class StubRefused(ProtocolError):
    """The stub refused a command for a reason a resend cannot cure (its state, not the packet)."""


class ChipError(PipelineError):
    """The chip is not an ESP8266, or its flash cannot be identified."""


class FlashError(PipelineError):
    """Writing, erasing or reading flash failed."""


class VerifyError(FlashError):
    """The flash does not hold what was written."""


class OutsideDamage(FlashError):
    """Flash outside the plan changed during the flash, or cannot be proven unchanged."""


class FilesWouldBeLost(PipelineError):
    """The plan would erase files the board lists (its file system moves or is written over);
    refused before the first write unless the user says yes."""


class FlashInterrupted(KeyboardInterrupt):
    """Ctrl-C during a flash, carrying what state the board was left in (one sentence)."""

    def __init__(self, board_state: str) -> None:
        super().__init__(board_state)
        self.board_state = board_state


class BoardInterrupted(KeyboardInterrupt):
    """Ctrl-C during a file operation on the board (an upload, a run): the state it is in."""

    def __init__(self, board_state: str) -> None:
        super().__init__(board_state)
        self.board_state = board_state


# --- downloads -----------------------------------------------------------------------------------
class DownloadError(PipelineError):
    """A download failed (network, HTTP status, size, timeout)."""


class ChecksumMismatch(DownloadError):
    """Downloaded or provided data does not match its pinned SHA-256."""


class UnsafeArchive(DownloadError):
    """An archive member would escape the target or expand dangerously."""


# --- docker build --------------------------------------------------------------------------------
class DockerError(PipelineError):
    """The Docker engine or image is unavailable."""


class BuildError(PipelineError):
    """The firmware build failed inside the container."""


# --- REPL ----------------------------------------------------------------------------------------
class ReplError(PipelineError):
    """The NodeMCU REPL did not answer as expected."""


class BootLoopError(ReplError):
    """The board keeps rebooting instead of reaching the Lua prompt."""


class FileSystemError(ReplError):
    """The NodeMCU file system does not work, even after formatting."""


class LuaError(ReplError):
    """A Lua chunk we ran raised or did not compile; the message is the board's own."""


class NotAnswering(ReplError):
    """No framed answer came back: the board is not at the Lua prompt (or not running NodeMCU)."""


class BoardRestarted(ReplError):
    """The board printed its boot banner while we waited for an answer."""

    def __init__(self, *, started: bool, seen: bytes = b"") -> None:
        what = "while running the command" if started else "before the command started"
        super().__init__(
            f"the board restarted {what}",
            "An endless loop trips the watchdog; a crash or brown-out resets it. Check init.lua "
            "and the power supply",
        )
        self.started = started
        self.seen = seen  # what the board printed up to its banner (an exception dump, the ROM's)


class FileTransferError(ReplError):
    """A file for or on the board cannot be moved: missing, badly named, no space, changed on the way."""


# --- flash farm ----------------------------------------------------------------------------------
class PortsFileError(PipelineError):
    """A line of a ``--ports-file`` that cannot be used (the message names the line)."""


class FarmError(PipelineError):
    """One or more boards of a farm failed; the others finished and are in the summary."""


class FarmInterrupted(PipelineError):
    """Ctrl-C during a farm: every board was stopped; the summary says which were complete."""

    exit_code = 130


class DuplicateBoard(UsageError):
    """Two ports of one farm reached the same board (the same MAC): naming it twice is a usage error."""


class BoardStopped(PipelineError):
    """Raised inside one board's own callbacks when its time is up or the user pressed Ctrl-C."""


# --- monitor -------------------------------------------------------------------------------------
class ElfError(PipelineError):
    """A file given as the firmware's ELF that is missing, not an ELF, or not for the ESP8266."""


class MonitorError(PipelineError):
    """The serial monitor cannot run (no port answers, the port vanished for good)."""
