"""Task: settings (the effective settings and where each one came from)."""

from __future__ import annotations

from invoke import Context

from nodemcu_pipeline.cli import JSON_HELP, task, task_errors


@task(help={"json": JSON_HELP})
@task_errors
def settings(c: Context, *, json: bool = False) -> None:
    """Show every setting's effective value and where it came from (file, variable, global option
    or default)."""
    from dataclasses import asdict

    from nodemcu_pipeline.console.facts import Facts
    from nodemcu_pipeline.settings.table import SETTINGS, origins
    from nodemcu_pipeline.settings.table import settings as effective

    values = asdict(effective(c.config))
    where = origins(c.config)
    facts = Facts(json=json)
    found = {}
    for s in SETTINGS:
        value = "auto" if s.kind == "auto-int" and values[s.key] is None else values[s.key]
        origin = where.get(s.key, "default")
        facts.line(f"{s.key:<13} {value!s:<40} {origin}")
        shown = str(value) if hasattr(value, "parts") else value  # a Path as its text
        found[s.key] = {"value": shown, "from": origin}
    facts.result({"settings": found})
