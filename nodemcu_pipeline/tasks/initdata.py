"""Task: initdata (SDK init data downloads)."""

from __future__ import annotations

from invoke import task

from nodemcu_pipeline.cli import task_errors


# ==== downloads: initdata, build --source cloud =====================================================
@task(
    help={
        "sdk": "ESP8266 NONOS SDK release whose init data to fetch, e.g. 3.0.6 (see --list)",
        "list": "list the SDK releases in sdk_cache/manifest.json with their pinned sums",
        "init-data-url": "fetch init data from this URL instead (a zip or the 128-byte file)",
        "sha256": "SHA-256 of the init data itself (required with --init-data-url)",
        "member": "path of the init data inside the zip (default: the manifest's)",
        "mirror": "base URL replacing https://github.com in manifest URLs "
        "(also INVOKE_PIPELINE_SDK_MIRROR)",
        "allow-http": "allow plain http:// to hosts other than 127.0.0.1/localhost",
        "cache-dir": "download cache (default: sdk_cache)",
    },
)
@task_errors
def initdata(
    c,
    sdk=None,
    list_=False,
    init_data_url=None,
    sha256=None,
    member=None,
    mirror=None,
    allow_http=False,
    cache_dir=None,
):
    """Fetch SDK init data from a pinned source, verify it and print the cached file's path."""
    import os

    from nodemcu_pipeline.config import settings
    from nodemcu_pipeline.errors import UsageError
    from nodemcu_pipeline.progress import console_progress
    from nodemcu_pipeline.sources import initdata as idata
    from nodemcu_pipeline.sources.download import DownloadPolicy

    s = settings(c.config, cache_dir=cache_dir, allow_http=allow_http or None)
    manifest = s.cache_dir / "manifest.json"
    if not manifest.exists():
        from pathlib import Path

        manifest = Path(__file__).resolve().parents[2] / "sdk_cache" / "manifest.json"
    if list_:
        print("\n".join(idata.describe(manifest)))
        return
    if sdk is None and init_data_url is None:
        raise UsageError(
            "initdata needs --sdk VERSION or --init-data-url URL --sha256 HEX",
            "Run `invoke initdata --list` for the known SDK releases",
        )
    mirror = mirror or os.environ.get(idata.MIRROR_ENV) or c.config.pipeline.get("sdk_mirror")
    with console_progress() as progress:
        path = idata.get_init_data(
            sdk,
            s.cache_dir,
            manifest,
            url=init_data_url,
            sha256=sha256,
            member=member,
            mirror=mirror,
            policy=DownloadPolicy(allow_http=s.allow_http),
            progress=progress,
        )
    print(f"init data: {path}")


# ==== end downloads ================================================================================
