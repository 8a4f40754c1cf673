"""The task collection: the same tasks for ``invoke`` in a checkout and for the console script.

Each module holds the tasks of one stage (and ``esptool_*``/``nodemcu_tool`` the commands users of
those tools know); this package puts them into one flat collection so that ``invoke build flash``
and ``nodemcu-pipeline build flash`` chain them the same way.
"""

from __future__ import annotations

from invoke import Collection

from nodemcu_pipeline.cli import adopt
from nodemcu_pipeline.settings.table import DEFAULTS
from nodemcu_pipeline.tasks import (
    assembling,
    building,
    checking,
    cleaning,
    configuring,
    esptool_flash,
    esptool_info,
    farm,
    files,
    flashing,
    initdata,
    lfs,
    monitor,
    nodemcu_tool,
    releasing,
    testing,
)

STAGE_MODULES = (
    assembling,
    flashing,
    initdata,
    building,
    checking,
    files,
    releasing,
    farm,
    lfs,
    configuring,
    cleaning,
    monitor,
    esptool_flash,
    esptool_info,
    nodemcu_tool,
    testing,
)


def collection() -> Collection:
    """A fresh flat collection of every task, with the pipeline's defaults configured."""
    ns = Collection()
    for module in STAGE_MODULES:
        for task in Collection.from_module(module).tasks.values():
            ns.add_task(adopt(task))
    ns.configure({"pipeline": dict(DEFAULTS)})
    return ns


ns = collection()
