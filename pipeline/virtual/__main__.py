"""``python -m pipeline.virtual`` in a checkout runs ``python -m nodemcu_pipeline.virtual``."""

import runpy

runpy.run_module("nodemcu_pipeline.virtual", run_name="__main__", alter_sys=True)
