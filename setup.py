"""Packaging detail pyproject.toml cannot say: the repository's data folders go inside the package.

The build-image recipe (docker/), the SDK manifest (sdk_cache/manifest.json) and the example firmware
(examples/firmware/) stay where a checkout has them, and the wheel carries them as
``nodemcu_pipeline/data/{recipe,manifests,firmware}`` (read through nodemcu_pipeline/resources.py).
Everything else is in pyproject.toml.
"""

from setuptools import find_packages, setup

DATA = {
    "nodemcu_pipeline.data.recipe": "docker",
    "nodemcu_pipeline.data.manifests": "sdk_cache",
    "nodemcu_pipeline.data.firmware": "examples/firmware",
}

setup(
    packages=find_packages(include=["nodemcu_pipeline", "nodemcu_pipeline.*"]) + list(DATA),
    package_dir={"": ".", **DATA},
    package_data={
        "nodemcu_pipeline": ["py.typed"],
        # The Lua that runs on boards or in the virtual NodeMCU, beside the Python that loads it.
        "nodemcu_pipeline.board": ["lua/*.lua"],
        "nodemcu_pipeline.virtual": ["lua/*.lua"],
        "nodemcu_pipeline.virtual.modules": ["lua/*.lua"],
        # The host build of a NodeMCU tree (C sources, make and scripts the build container runs).
        "nodemcu_pipeline.build": ["host_firmware/*", "host_firmware/host/*"],
        # Every file: the recipe's hash and build context take them all (docker_image.recipe_files).
        "nodemcu_pipeline.data.recipe": ["**/*"],
        "nodemcu_pipeline.data.manifests": ["*.json"],
        "nodemcu_pipeline.data.firmware": [
            "Makefile",
            "app/include/*.h",
            "app/user/*.c",
            "ld/*.ld",
            "tools/*.py",
        ],
    },
)
