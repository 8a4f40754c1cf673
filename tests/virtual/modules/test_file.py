"""``file.fsinfo`` reports SPIFFS's usable size and page-granular use."""

from __future__ import annotations

from nodemcu_host import RecordingHost


def test_fsinfo_counts_spiffs_pages(host: RecordingHost) -> None:
    remaining, used, total = map(int, host.send("=file.fsinfo()\n").split("\r\n")[1].split("\t"))
    size = 0xFC000 - 0x12000  # the 1 MB board's partition
    assert total == ((size // 0x2000 - 2) * 31 + 1) * 251 and used == 0 and remaining == total
    host.send("file.putcontents('five.txt', '12345')\n")
    remaining, used, total = map(int, host.send("=file.fsinfo()\n").split("\r\n")[1].split("\t"))
    assert used == 502 and remaining == total - 502
