"""nodemcu-pipeline: build NodeMCU firmware and get it onto an ESP8266, correctly, in one command."""

__version__ = "0.1.0"
