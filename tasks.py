"""Invoke's entry in a checkout: ``invoke build flash`` runs the packaged task collection.

The tasks themselves live in ``nodemcu_pipeline/tasks/``; the console script ``nodemcu-pipeline``
runs the same collection from any directory. Settings come from invoke's configuration under
``pipeline`` (invoke.yaml, INVOKE_PIPELINE_* variables), then flags. invoke reads invoke.yaml after
importing this file, so a broken config file can still end in one ``error:`` line.
"""

from nodemcu_pipeline.program import install_config_errors
from nodemcu_pipeline.tasks import ns

install_config_errors()

__all__ = ["ns"]
