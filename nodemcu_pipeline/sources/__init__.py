"""Download sources: SDK init data, cloud-build images, Docker builds."""
