"""Task: initdata (SDK init data downloads)."""

from __future__ import annotations

from invoke import Context

from nodemcu_pipeline.cli import help_for, task, task_errors


# ==== downloads: initdata, build --source cloud =====================================================
@task(
    help={
        "sdk": "ESP8266 NONOS SDK release whose init data to fetch, e.g. 3.0.6 (see --list)",
        "list": "list the SDK releases in the manifest (the project's sdk_cache/manifest.json, else "
        "the packaged one) with their pinned sums",
        "init-data-url": "fetch init data from this URL instead (a zip or the 128-byte file)",
        "sha256": "SHA-256 of the init data itself (required with --init-data-url)",
        "member": "path of the init data inside the zip (default: the manifest's)",
        "mirror": help_for("sdk_mirror"),
    },
)
@task_errors
def initdata(
    c: Context,
    *,
    sdk: str | None = None,
    list_: bool = False,
    init_data_url: str | None = None,
    sha256: str | None = None,
    member: str | None = None,
    mirror: str | None = None,
    allow_http: bool = False,
    cache_dir: str | None = None,
) -> None:
    """Fetch SDK init data from a pinned source, verify it and print the cached file's path."""
    from nodemcu_pipeline.downloads import initdata as idata
    from nodemcu_pipeline.downloads.download import DownloadPolicy
    from nodemcu_pipeline.errors import UsageError
    from nodemcu_pipeline.progress import console_progress
    from nodemcu_pipeline.settings.resources import sdk_manifest
    from nodemcu_pipeline.settings.table import settings

    s = settings(c.config, cache_dir=cache_dir, allow_http=allow_http or None, sdk_mirror=mirror)
    # A project may pin its own sources (sdk_cache/manifest.json beside invoke.yaml, as in a checkout);
    # otherwise the packaged manifest.
    manifest = s.project_dir / "sdk_cache" / "manifest.json"
    if not manifest.exists() and not manifest.is_symlink():  # anything there is read (or refused)
        manifest = sdk_manifest()
    if list_:
        print("\n".join(idata.describe(manifest)))
        return
    if sdk is None and init_data_url is None:
        raise UsageError(
            "initdata needs --sdk VERSION or --init-data-url URL --sha256 HEX",
            "Run `invoke initdata --list` for the known SDK releases",
        )
    with console_progress() as progress:
        path = idata.get_init_data(
            sdk,
            s.cache_dir,
            manifest,
            url=init_data_url,
            sha256=sha256,
            member=member,
            mirror=s.sdk_mirror or None,
            policy=DownloadPolicy(allow_http=s.allow_http),
            progress=progress,
        )
    print(f"init data: {path}")


# ==== end downloads ================================================================================
