"""Task: clean (what the tool made in the project; with --all also its caches, images and volume)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Context

from nodemcu_pipeline.cli import say, task, task_errors

if TYPE_CHECKING:
    from pathlib import Path

    from nodemcu_pipeline.workflows.clean import Freed


@task(
    help={
        "all": "also the shared download cache, the build images this tool made (by label), the "
        "root file systems it imported and its compiler-cache volume",
    }
)
@task_errors
def clean(
    c: Context,
    *,
    all_: bool = False,
    build_dir: str | None = None,
    cache_dir: str | None = None,
) -> None:
    """Remove the build outputs this tool wrote (never other files), and say what that freed and
    what it left alone."""
    from nodemcu_pipeline.settings.table import settings
    from nodemcu_pipeline.workflows.clean import (
        Freed,
        clean_cache,
        human,
        left_alone,
        remove_copies,
        remove_files,
        survey,
    )

    s = settings(c.config, build_dir=build_dir, cache_dir=cache_dir)
    freed = Freed()
    found = survey(s.build_dir)
    remove_copies(found.copies, freed)
    remove_files(found.files, s.build_dir, freed, str(s.build_dir))
    kept_in_cache: list[Path] = []
    if all_:
        kept_in_cache = clean_cache(s.cache_dir, freed)
        _clean_docker(freed)
    for what, size in freed.items:
        print(f"clean: {what} ({human(size)})")
    for path in found.changed:
        print(f"clean: kept {path} (changed since this tool wrote it)")
    if found.unmarked:
        names = ", ".join(str(p) for p in found.unmarked)
        say(
            f"{names}: no nodemcu-pipeline marker (written by an older version, or not by this "
            "tool), so left alone; delete them yourself if they are old build outputs"
        )
    if kept_in_cache:
        names = ", ".join(f"{p.parent.name}/{p.name}" for p in kept_in_cache[:12])
        more = f" and {len(kept_in_cache) - 12} more" if len(kept_in_cache) > 12 else ""
        print(f"clean: left alone in {s.cache_dir} (not the cache's own): {names}{more}")
    kept = left_alone(s.build_dir)
    if kept:
        print(f"clean: left alone in {s.build_dir}: {kept}")
    print(f"clean: freed {human(freed.total)}" if freed.items else "clean: nothing to remove")


def _clean_docker(freed: Freed) -> None:
    from nodemcu_pipeline.build.docker_build import CCACHE_VOLUME, docker_client
    from nodemcu_pipeline.build.docker_image import RECIPE_LABEL
    from nodemcu_pipeline.errors import DockerError
    from nodemcu_pipeline.workflows.clean import clean_docker

    try:
        client = docker_client()
    except DockerError as exc:
        say(f"Docker images and volumes left alone: {exc.message}")
        return
    clean_docker(client, RECIPE_LABEL, "nodemcu-pipeline/rootfs", CCACHE_VOLUME, freed)
