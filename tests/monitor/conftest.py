"""The real NodeMCU build fixtures of tests/sources, for decoding crashes in real NodeMCU."""

from tests.sources.conftest import nodemcu_image, pinned_build  # noqa: F401
