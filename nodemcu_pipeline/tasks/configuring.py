"""Task: settings (the effective settings and where each one came from)."""

from __future__ import annotations

from invoke import Context

from nodemcu_pipeline.cli import task, task_errors


@task
@task_errors
def settings(c: Context) -> None:
    """Show every setting's effective value and where it came from (file, variable or default)."""
    from dataclasses import asdict

    from nodemcu_pipeline.settings.table import SETTINGS, origins
    from nodemcu_pipeline.settings.table import settings as effective

    values = asdict(effective(c.config))
    where = origins(c.config)
    for s in SETTINGS:
        value = "auto" if s.kind == "auto-int" and values[s.key] is None else values[s.key]
        print(f"{s.key:<13} {value!s:<40} {where.get(s.key, 'default')}")
