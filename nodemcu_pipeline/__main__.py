"""``python -m nodemcu_pipeline``: the same as the ``nodemcu-pipeline`` console script."""

from nodemcu_pipeline.program import main

main()
