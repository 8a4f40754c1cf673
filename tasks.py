"""Invoke's entry in a checkout: ``invoke build flash`` runs the packaged task collection.

The tasks themselves live in ``nodemcu_pipeline/tasks/``; the console script ``nodemcu-pipeline``
runs the same collection from any directory. Settings come from invoke's configuration under
``pipeline`` (invoke.yaml, INVOKE_PIPELINE_* variables), then flags.
"""

from nodemcu_pipeline.tasks import ns

__all__ = ["ns"]
