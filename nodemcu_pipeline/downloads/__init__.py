"""Downloads: HTTP with resume, the verified cache, SDK init data, cloud-build images."""
