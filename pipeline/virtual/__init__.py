"""The virtual ESP8266: ROM loader, stub, flash chip and NodeMCU firmware, for tests and rehearsal."""
