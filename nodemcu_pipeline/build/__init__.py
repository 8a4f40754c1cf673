"""Firmware builds: pinned sources, the build copy, the Docker image and container, host tools."""
