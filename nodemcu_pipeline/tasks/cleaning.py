"""Task: clean (what the tool made in the project; with --all also its caches, images and volume)."""

from __future__ import annotations

from nodemcu_pipeline.cli import task, task_errors


@task(
    help={
        "all": "also the shared download cache, the build images this tool made (by label), the "
        "root file systems it imported and its compiler-cache volume",
    }
)
@task_errors
def clean(c, all_=False, build_dir=None, cache_dir=None):
    """Remove the build outputs this tool made (never other files), and say how much that freed."""
    from nodemcu_pipeline.settings.table import settings
    from nodemcu_pipeline.workflows.clean import (
        Freed,
        build_copies,
        build_outputs,
        clean_cache,
        human,
        remove_copies,
        remove_files,
    )

    s = settings(c.config, build_dir=build_dir, cache_dir=cache_dir)
    freed = Freed()
    remove_copies(build_copies(s.build_dir), freed)
    remove_files(build_outputs(s.build_dir), s.build_dir, freed, str(s.build_dir))
    if all_:
        clean_cache(s.cache_dir, freed)
        _clean_docker(freed)
    for what, size in freed.items:
        print(f"clean: {what} ({human(size)})")
    print(f"clean: freed {human(freed.total)}" if freed.items else "clean: nothing to remove")


def _clean_docker(freed):
    from nodemcu_pipeline.build.docker_build import CCACHE_VOLUME, docker_client
    from nodemcu_pipeline.build.docker_image import RECIPE_LABEL
    from nodemcu_pipeline.cli import say
    from nodemcu_pipeline.errors import DockerError
    from nodemcu_pipeline.workflows.clean import clean_docker

    try:
        client = docker_client()
    except DockerError as exc:
        say(f"Docker images and volumes left alone: {exc.message}")
        return
    clean_docker(client, RECIPE_LABEL, "nodemcu-pipeline/rootfs", CCACHE_VOLUME, freed)
