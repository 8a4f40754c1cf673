"""The Docker engine: a client from the environment, and the build image, each with a one-line error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from nodemcu_pipeline.errors import DockerError

DEFAULT_IMAGE = "nodemcu-pipeline/build:local"


PING_TIMEOUT = 10  # seconds for the first answer: an unreachable engine fails in this time
API_TIMEOUT = 30  # seconds of silence allowed on any later call
LOCAL_SOCKET = "unix:///var/run/docker.sock"


def docker_client() -> Any:
    """A docker-py client from the environment (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH),
    or a one-line error with the fix. An ``ssh://`` engine is reached through the ``ssh`` command,
    so the user's ssh configuration and keys apply."""
    try:
        import docker.errors

        import docker
    except ImportError:  # pragma: no cover - docker is a dependency
        raise DockerError(
            "the docker Python package is missing", "Run `pip install docker`"
        ) from None
    host = os.environ.get("DOCKER_HOST", "")
    tls = bool(os.environ.get("DOCKER_CERT_PATH") or os.environ.get("DOCKER_TLS_VERIFY"))
    try:
        with _engine_ca_only(tls=tls):
            # mypy resolves `docker` to the repo's docker/ recipe folder; the runtime import finds
            # docker-py.
            client = docker.from_env(  # type: ignore[attr-defined]
                timeout=PING_TIMEOUT, use_ssh_client=host.startswith("ssh://")
            )
        if tls:
            _keep_engine_ca(client.api)
        client.ping()
    except docker.errors.DockerException as exc:
        raise _engine_error(exc) from None
    except OSError as exc:  # the ssh command missing, a socket error outside docker-py's wrapping
        raise _engine_error(exc) from None
    client.api.timeout = API_TIMEOUT
    return client


# requests lets these variables replace a session's own CA per request (psf/requests#3829), so a
# machine-wide bundle would make every TLS engine's certificate "unable to get local issuer".
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@contextmanager
def _engine_ca_only(*, tls: bool) -> Iterator[None]:
    """While docker-py's first request runs (it asks the engine's version), the engine's CA from
    DOCKER_CERT_PATH is the only one that counts."""
    saved = {
        name: os.environ.pop(name) for name in CA_BUNDLE_VARIABLES if tls and name in os.environ
    }
    try:
        yield
    finally:
        os.environ.update(saved)


def _keep_engine_ca(api: Any) -> None:
    """Every later request of ``api`` verifies with its own CA, whatever the environment says."""
    merge = api.merge_environment_settings

    def merged(url: str, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        settings = merge(url, proxies, stream, verify, cert)
        if isinstance(api.verify, str):
            settings["verify"] = api.verify
        return settings

    api.merge_environment_settings = merged


def engine_note() -> str | None:
    """What to tell the user about the engine when DOCKER_HOST names one (None: the local one)."""
    from nodemcu_pipeline.build.docker_transfer import engine_is_remote

    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return None
    if engine_is_remote(host):
        return (
            f"using the Docker engine at DOCKER_HOST={host}: inputs are sent into its "
            "containers and results copied back (nothing is mounted), its volumes hold the "
            "compiler cache"
        )
    return f"using the Docker engine at DOCKER_HOST={host}"


def _engine_error(exc: Exception) -> DockerError:
    text = str(exc)
    given = os.environ.get("DOCKER_HOST", "")
    host = f"DOCKER_HOST={given}" if given else LOCAL_SOCKET
    detail = " ".join(text.split())[:160]
    if "Permission denied" in text or "PermissionError" in text:
        return DockerError(
            f"no permission to use the Docker socket ({host})",
            "Run `sudo usermod -aG docker $USER`, then log in again",
        )
    if type(exc).__name__ == "TLSParameterError" or "ca_cert" in text or "client_cert" in text:
        return DockerError(
            f"the TLS files for the Docker engine at {host} are missing or unreadable ({detail})",
            "Set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem",
        )
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSLError" in text or "certificate" in text:
        return DockerError(
            f"the Docker engine at {host} failed the TLS check ({detail})",
            "Check DOCKER_CERT_PATH (the engine's CA in ca.pem) and DOCKER_TLS_VERIFY",
        )
    if "paramiko" in text:
        return DockerError(
            f"the Docker engine at {host} needs docker-py's ssh support, which needs paramiko",
            "Run `pip install 'nodemcu-pipeline[ssh]'` (paramiko; the connection itself goes "
            "through your ssh command), or use tcp:// with TLS",
        )
    if given and not given.startswith(("unix://", "npipe://")):
        return DockerError(
            f"no Docker engine answers at {host} ({detail})",
            "Check that the engine runs and is reachable at that address (with TLS: "
            "DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH), or unset DOCKER_HOST for the local one",
        )
    return DockerError(
        f"no Docker engine answers at {host}",
        "Start it (`sudo systemctl start docker` or `dockerd &`) or set DOCKER_HOST",
    )


def ensure_image(client: Any, image: str) -> Any:
    """The image object for ``image``; pulls names other than the local one when missing."""
    import docker.errors

    try:
        return client.images.get(image)
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as exc:
        raise DockerError(
            f"the engine could not look up {image} ({exc.explanation})", "Check `docker info`"
        ) from None
    if image == DEFAULT_IMAGE:
        raise DockerError(f"build image {image} does not exist", "Run `invoke build-image`")
    try:
        return client.images.pull(image)
    except docker.errors.DockerException as exc:
        first = str(exc).splitlines()[0][:200]
        raise DockerError(
            f"cannot pull {image} ({first})",
            "Check the name and the registry connection, or run `invoke build-image` "
            f"and use --image {DEFAULT_IMAGE}",
        ) from None
