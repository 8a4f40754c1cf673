"""How often the flasher resends and how long it waits: the numbers a session and the stub upload share."""

# Blocks in a row that must succeed before a shrunken RAM/flash block size is doubled again.
GROW_AFTER = 4
# Resends of one command (or one RAM block position) before the link is declared broken. Cheap: a
# resend costs one packet, and only a lost frame costs a timeout.
ATTEMPTS = 10
# Silences in a row after which the chip is taken for gone (reset, unplugged, hung) rather than
# unlucky: at a 1e-3 byte error rate a lost frame is a few-percent event, four in a row ~1e-6.
SILENCE_LIMIT = 4
SHORT = 1.0  # seconds to wait for the answer to a short command
