"""Run nodemcu-uploader's CLI against the virtual board's pty, unmodified except for one thing.

nodemcu-uploader opens only device paths and sets RTS/DTR on open; a pseudo-terminal has no modem
lines and refuses that ioctl with ENOTTY (Errno 25). This shim ignores exactly that error, only
for RTS/DTR and only on a pty, and leaves everything else to the real client.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any

import serial.serialposix


def _tolerant(update: Any) -> Any:
    def wrapped(self: serial.serialposix.Serial) -> None:
        try:
            update(self)
        except OSError as exc:
            if exc.errno != errno.ENOTTY or not os.ttyname(self.fd).startswith("/dev/pts/"):
                raise

    return wrapped


serial.serialposix.Serial._update_rts_state = _tolerant(serial.serialposix.Serial._update_rts_state)
serial.serialposix.Serial._update_dtr_state = _tolerant(serial.serialposix.Serial._update_dtr_state)

if __name__ == "__main__":
    from nodemcu_uploader.main import main_func

    sys.argv[0] = "nodemcu-uploader"
    main_func()
