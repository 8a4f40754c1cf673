"""The serial monitor: the board's output live, keystrokes to its REPL, crashes decoded.

``decode`` (pure: boot lines, exception dumps), ``elf`` (addresses → function and line),
``render`` (terminal vs timestamped plain lines, ``--log``), ``session`` (the serial loop).
"""
