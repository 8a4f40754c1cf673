"""The ``nodemcu-pipeline`` console script: invoke's ``Program`` over the packaged collection."""

from __future__ import annotations

from invoke import Program

from nodemcu_pipeline import __version__
from nodemcu_pipeline.tasks import ns

program = Program(
    namespace=ns, version=__version__, name="nodemcu-pipeline", binary="nodemcu-pipeline"
)


def main() -> None:
    """Run the console script."""
    program.run()
