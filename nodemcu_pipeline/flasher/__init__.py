"""Our own ESP8266 serial flasher (ROM loader and stub protocol), on pyserial."""
