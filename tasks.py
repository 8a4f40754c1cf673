"""Invoke tasks: parse options, call ``pipeline``, turn failures into one line.

Run ``invoke --list`` for the tasks and ``invoke --help TASK`` for each task's options. Settings come
from invoke's configuration under ``pipeline`` (invoke.yaml, INVOKE_PIPELINE_* variables), then flags.
"""

from __future__ import annotations

from invoke import Collection, task

from pipeline.cli import task_errors
from pipeline.config import DEFAULTS

# ==== foundation: assemble =========================================================================
# ==== end foundation ===============================================================================

# ==== flasher: flash, erase, read-flash, chip-info =================================================
# ==== end flasher ==================================================================================

# ==== downloads: initdata, build --source cloud =====================================================
# ==== end downloads ================================================================================

# ==== docker: build, build-image ====================================================================
# ==== end docker ===================================================================================

# ==== repl and chain: check, demo, rehearse =========================================================
# ==== end repl and chain ===========================================================================

# ==== release: release, bench, soak =================================================================
# ==== end release ==================================================================================

ns = Collection.from_module(__import__(__name__))
ns.configure({"pipeline": dict(DEFAULTS)})
