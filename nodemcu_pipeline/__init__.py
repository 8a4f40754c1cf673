"""nodemcu-pipeline: build NodeMCU firmware and get it onto an ESP8266, correctly, in one command.

The public Python API is declared here, once, in ``__all__`` (esptool v5's shape): plain functions
that take what they work on first — a port, images, a build directory, a plan file — and their
options as one frozen record (``FlashOptions``, ``AssembleOptions``, ...), with ``say`` (notes for a
person) and ``progress`` (``ProgressEvent``s) as keywords; failures are ``PipelineError``s carrying a
one-line message and a hint. The tasks and the console script are a thin shell over the same
functions.

Names load on first use (``__getattr__`` below), so ``import nodemcu_pipeline`` and the console
script's start do not pay for the serial, Docker and HTTP stacks behind them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # build: a Docker build of the pinned release or a tree, or a cloud image
    "BuildOptions",
    "BuildResult",
    "CloudImage",
    "FirmwareBuild",
    "SourceOptions",
    "build_firmware",
    "fetch_cloud_build",
    # assemble: images + flash size -> a checked flash plan
    "AssembleOptions",
    "AssembleResult",
    "FlashPlan",
    "Region",
    "assemble",
    "load_plan",
    "plan_source",
    # the ROM loader: flash, chip info, erase, read
    "ChipInfo",
    "ConnectOptions",
    "FlashOptions",
    "FlashReport",
    "PlanFor",
    "RegionResult",
    "chip_info",
    "erase",
    "fixed_plan",
    "flash",
    "read_flash",
    # the running firmware: the REPL check, board files, the monitor
    "Downloaded",
    "FsReport",
    "FsState",
    "MonitorStats",
    "UploadOptions",
    "Uploaded",
    "WatchOptions",
    "check_after_flash",
    "download_file",
    "format_files",
    "list_files",
    "load_lfs",
    "remove_file",
    "run_file",
    "upload_files",
    "watch",
    # without hardware: the virtual board and a rehearsal on it
    "ChainReport",
    "VirtualBoard",
    "rehearse",
    # progress and errors
    "ProgressCallback",
    "ProgressEvent",
    "BoardInterrupted",
    "BootLoopError",
    "BuildError",
    "ChecksumMismatch",
    "ChipError",
    "CloudImageChanged",
    "DockerError",
    "DownloadError",
    "ElfError",
    "FileSystemError",
    "FileTransferError",
    "FilesWouldBeLost",
    "FlashError",
    "FlashInterrupted",
    "ImageError",
    "LayoutError",
    "LockFileError",
    "LuaError",
    "MonitorError",
    "NotAnswering",
    "OutsideDamage",
    "PipelineError",
    "PlanError",
    "ProtocolError",
    "ReplError",
    "SerialPortError",
    "SourcesError",
    "SyncError",
    "UnsafeArchive",
    "UsageError",
    "VerifyError",
]

# The module each public name lives in. The imports under TYPE_CHECKING say the same for type
# checkers; tests/test_api.py keeps the three lists equal.
_HOME = {
    "BuildOptions": "nodemcu_pipeline.build.docker_build",
    "BuildResult": "nodemcu_pipeline.build.docker_build",
    "CloudImage": "nodemcu_pipeline.downloads.cloud",
    "FirmwareBuild": "nodemcu_pipeline.build.firmware_build",
    "SourceOptions": "nodemcu_pipeline.build.firmware_build",
    "build_firmware": "nodemcu_pipeline.build.firmware_build",
    "fetch_cloud_build": "nodemcu_pipeline.build.firmware_build",
    "AssembleOptions": "nodemcu_pipeline.workflows.assemble",
    "AssembleResult": "nodemcu_pipeline.workflows.assemble",
    "FlashPlan": "nodemcu_pipeline.plan.model",
    "Region": "nodemcu_pipeline.plan.model",
    "assemble": "nodemcu_pipeline.workflows.assemble",
    "load_plan": "nodemcu_pipeline.plan.file",
    "plan_source": "nodemcu_pipeline.workflows.assemble",
    "ChipInfo": "nodemcu_pipeline.flasher.session",
    "ConnectOptions": "nodemcu_pipeline.flasher.api",
    "FlashOptions": "nodemcu_pipeline.flasher.api",
    "FlashReport": "nodemcu_pipeline.flasher.api",
    "PlanFor": "nodemcu_pipeline.flasher.api",
    "RegionResult": "nodemcu_pipeline.flasher.write",
    "chip_info": "nodemcu_pipeline.flasher.api",
    "erase": "nodemcu_pipeline.flasher.api",
    "fixed_plan": "nodemcu_pipeline.flasher.api",
    "flash": "nodemcu_pipeline.flasher.api",
    "read_flash": "nodemcu_pipeline.flasher.api",
    "Downloaded": "nodemcu_pipeline.board.file_commands",
    "FsReport": "nodemcu_pipeline.board.check",
    "FsState": "nodemcu_pipeline.board.check",
    "MonitorStats": "nodemcu_pipeline.monitor.session",
    "UploadOptions": "nodemcu_pipeline.board.file_commands",
    "Uploaded": "nodemcu_pipeline.board.file_commands",
    "WatchOptions": "nodemcu_pipeline.monitor.watch",
    "check_after_flash": "nodemcu_pipeline.board.check",
    "download_file": "nodemcu_pipeline.board.file_commands",
    "format_files": "nodemcu_pipeline.board.file_commands",
    "list_files": "nodemcu_pipeline.board.file_commands",
    "load_lfs": "nodemcu_pipeline.board.file_commands",
    "remove_file": "nodemcu_pipeline.board.file_commands",
    "run_file": "nodemcu_pipeline.board.file_commands",
    "upload_files": "nodemcu_pipeline.board.file_commands",
    "watch": "nodemcu_pipeline.monitor.watch",
    "ChainReport": "nodemcu_pipeline.workflows.chain",
    "VirtualBoard": "nodemcu_pipeline.virtual",
    "rehearse": "nodemcu_pipeline.workflows.chain",
    "ProgressCallback": "nodemcu_pipeline.progress",
    "ProgressEvent": "nodemcu_pipeline.progress",
    "CloudImageChanged": "nodemcu_pipeline.downloads.cloud",
    "LockFileError": "nodemcu_pipeline.downloads.cloud",
    "SourcesError": "nodemcu_pipeline.build.firmware_sources",
    **{
        name: "nodemcu_pipeline.errors"
        for name in (
            "BoardInterrupted",
            "BootLoopError",
            "BuildError",
            "ChecksumMismatch",
            "ChipError",
            "DockerError",
            "DownloadError",
            "ElfError",
            "FileSystemError",
            "FileTransferError",
            "FilesWouldBeLost",
            "FlashError",
            "FlashInterrupted",
            "ImageError",
            "LayoutError",
            "LuaError",
            "MonitorError",
            "NotAnswering",
            "OutsideDamage",
            "PipelineError",
            "PlanError",
            "ProtocolError",
            "ReplError",
            "SerialPortError",
            "SyncError",
            "UnsafeArchive",
            "UsageError",
            "VerifyError",
        )
    },
}

if TYPE_CHECKING:
    from nodemcu_pipeline.board.check import FsReport, FsState, check_after_flash
    from nodemcu_pipeline.board.file_commands import (
        Downloaded,
        Uploaded,
        UploadOptions,
        download_file,
        format_files,
        list_files,
        load_lfs,
        remove_file,
        run_file,
        upload_files,
    )
    from nodemcu_pipeline.build.docker_build import BuildOptions, BuildResult
    from nodemcu_pipeline.build.firmware_build import (
        FirmwareBuild,
        SourceOptions,
        build_firmware,
        fetch_cloud_build,
    )
    from nodemcu_pipeline.build.firmware_sources import SourcesError
    from nodemcu_pipeline.downloads.cloud import CloudImage, CloudImageChanged, LockFileError
    from nodemcu_pipeline.errors import (
        BoardInterrupted,
        BootLoopError,
        BuildError,
        ChecksumMismatch,
        ChipError,
        DockerError,
        DownloadError,
        ElfError,
        FilesWouldBeLost,
        FileSystemError,
        FileTransferError,
        FlashError,
        FlashInterrupted,
        ImageError,
        LayoutError,
        LuaError,
        MonitorError,
        NotAnswering,
        OutsideDamage,
        PipelineError,
        PlanError,
        ProtocolError,
        ReplError,
        SerialPortError,
        SyncError,
        UnsafeArchive,
        UsageError,
        VerifyError,
    )
    from nodemcu_pipeline.flasher.api import (
        ConnectOptions,
        FlashOptions,
        FlashReport,
        PlanFor,
        chip_info,
        erase,
        fixed_plan,
        flash,
        read_flash,
    )
    from nodemcu_pipeline.flasher.session import ChipInfo
    from nodemcu_pipeline.flasher.write import RegionResult
    from nodemcu_pipeline.monitor.session import MonitorStats
    from nodemcu_pipeline.monitor.watch import WatchOptions, watch
    from nodemcu_pipeline.plan.file import load_plan
    from nodemcu_pipeline.plan.model import FlashPlan, Region
    from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent
    from nodemcu_pipeline.virtual import VirtualBoard
    from nodemcu_pipeline.workflows.assemble import (
        AssembleOptions,
        AssembleResult,
        assemble,
        plan_source,
    )
    from nodemcu_pipeline.workflows.chain import ChainReport, rehearse
else:
    # Hidden from type checkers, which would otherwise type every misspelt name as Any.
    def __getattr__(name: str) -> Any:
        home = _HOME.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value  # the next lookup is an ordinary one
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
