"""A FirmwareHost for driving NodeMCUApp in-process: a board without ROM or UART front end."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from nodemcu_pipeline.firmware.image import Segment, build_image, example_image
from nodemcu_pipeline.firmware.layout import Generation
from nodemcu_pipeline.virtual.flashchip import FlashChip
from nodemcu_pipeline.virtual.nodemcu import NodeMCUApp


@dataclass
class RecordingHost:
    """Records what the firmware sends (with its baud rate) and the restarts it asks for."""

    flash: FlashChip
    chip_id: int = 0x0076811A
    realtime: bool = False
    manual_clock: bool = True  # board time moves only through ``idle``
    output: list[tuple[bytes, int]] = field(default_factory=list)
    resets: list[int] = field(default_factory=list)
    reasons: list[int] = field(default_factory=list)
    slept: float = 0.0
    app: NodeMCUApp | None = None
    # Held while the test drives the firmware, as the board holds its lock: socket threads post
    # into the task loop under it.
    lock: threading.RLock = field(default_factory=threading.RLock)

    def emit(self, data: bytes, baud: int = 115200) -> None:
        self.output.append((bytes(data), baud))

    def request_reset(self, cause: int = 2, reason: int = 4) -> None:
        self.resets.append(cause)
        self.reasons.append(reason)

    def sleep(self, seconds: float) -> None:
        self.slept += seconds

    def idle(self, seconds: float) -> str:
        """Let board time pass without input; returns what came out at 115200."""
        assert self.app is not None
        start = len(self.output)
        with self.lock:
            self.app.idle(seconds)
        return b"".join(d for d, b in self.output[start:] if b == 115200).decode("latin-1")

    def text(self, baud: int = 115200) -> str:
        return b"".join(d for d, b in self.output if b == baud).decode("latin-1")

    def clear(self) -> None:
        self.output.clear()

    def boot(self, cause: int = 2, max_boots: int = 4, reason: int | None = None) -> NodeMCUApp:
        """Boot like the board does, following the firmware's own restarts."""
        for _ in range(max_boots):
            before = len(self.resets)
            self.app = NodeMCUApp(self)
            self.app.boot(cause, reason)
            if len(self.resets) == before:
                return self.app
        return self.app  # type: ignore[return-value]

    def send(self, text: str) -> str:
        """Type ``text`` into the REPL; returns what came back at 115200."""
        assert self.app is not None
        start = len(self.output)
        with self.lock:
            self.app.receive(text.encode("latin-1"))
        return b"".join(d for d, b in self.output[start:] if b == 115200).decode("latin-1")


def flash_with(
    generation: Generation = Generation.NODEMCU3,
    chip: int = 1 << 20,
    size_code: int = 0x20,
    init_data_at: int | None = None,
    modules: str | None = None,
) -> FlashChip:
    """A chip with an example NodeMCU image (0x0 + 0x10000) written as a tool would; ``modules``
    adds a buildinfo module list (else the firmware assumes the default build's 14)."""
    flash = FlashChip(chip)
    first, irom = example_image(generation, size_code=size_code)
    if modules is not None:
        irom += b"\0" + modules.encode() + b"\0"
    flash.program(0, first)
    flash.program(0x10000, irom)
    if init_data_at is not None:
        flash.program(init_data_at, b"\x05" + bytes(127))
    return flash


def blank_image(size_code: int = 0x20) -> bytes:
    return build_image(0x40100004, [Segment(0x40100000, b"\x00" * 64)], size_code=size_code)
