"""Real servers beside the shared Docker engine, all on 127.0.0.1, each started and removed by the test
that needs it: the reference registry (Debian's ``docker-registry``, distribution v2) with its own
storage directory, and a second ``dockerd`` with its own data root, exec root and pid file behind a
TLS TCP socket (certificates made here with openssl).

The second engine runs in a mount namespace of its own where the test's temporary directories and
the checkout are hidden under empty tmpfs mounts: a bind mount of any client path would show the
engine an empty directory, so a build there succeeds only if every input was sent through the API.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_root() -> list[str]:
    """Prefix for commands that need root: none as root, ``sudo -n`` on a CI runner."""
    return [] if os.geteuid() == 0 else ["sudo", "-n"]


def wait_until(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up within {seconds:.0f} s")


class TestRegistry:
    """``docker-registry serve`` on 127.0.0.1 with its storage in ``root``."""

    __test__ = False  # not a test class

    def __init__(self, root: Path) -> None:
        if shutil.which("docker-registry") is None:
            raise RuntimeError("docker-registry is not installed (.ci/setup installs it)")
        self.root = Path(root)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        (self.root / "storage").mkdir(parents=True, exist_ok=True)
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'storage'}\n"
            f"http:\n  addr: {self.host}\n"
        )
        self.log = open(self.root / "registry.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_until(self.answers, 30, f"docker-registry on {self.host}")

    def answers(self) -> bool:
        try:
            return requests.get(f"http://{self.host}/v2/", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def manifest_digest(self, repository: str, tag: str) -> str:
        """The digest the registry itself gives for ``repository:tag`` (a judge, not our code)."""
        answer = requests.head(
            f"http://{self.host}/v2/{repository}/manifests/{tag}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
            timeout=10,
        )
        answer.raise_for_status()
        return str(answer.headers["Docker-Content-Digest"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def make_tls(directory: Path) -> tuple[Path, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
    Returns (server directory, client directory: ca.pem, cert.pem, key.pem as DOCKER_CERT_PATH)."""
    server, client = directory / "server", directory / "client"
    server.mkdir(parents=True)
    client.mkdir(parents=True)

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", "ca-key.pem", "-out", "ca.pem")  # fmt: skip
    for name, usage, extra in (
        ("server", "serverAuth", "subjectAltName=IP:127.0.0.1"),
        ("client", "clientAuth", "basicConstraints=CA:FALSE"),
    ):
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
            "-keyout", f"{name}-key.pem", "-out", f"{name}.csr")  # fmt: skip
        (directory / f"{name}.ext").write_text(f"extendedKeyUsage={usage}\n{extra}\n")
        ssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
            "-out", f"{name}-cert.pem")  # fmt: skip
    for folder, name in ((server, "server"), (client, "client")):
        shutil.copy(directory / "ca.pem", folder / "ca.pem")
        shutil.copy(directory / f"{name}-cert.pem", folder / "cert.pem")
        shutil.copy(directory / f"{name}-key.pem", folder / "key.pem")
    return server, client


class SecondEngine:
    """A ``dockerd`` of the test's own on ``tcp://127.0.0.1:PORT`` with TLS (or, ``tls=False``, on
    a unix socket of its own: a fresh machine's local engine), which cannot see ``hidden`` (bind
    mounts of those paths would show it empty directories)."""

    def __init__(self, hidden: list[Path], *, tls: bool = True) -> None:
        if shutil.which("dockerd") is None or shutil.which("unshare") is None:
            raise RuntimeError("dockerd and unshare are needed for a second engine")
        # Not under the hidden temp dirs, and short: containerd's socket path must fit 108 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="nodemcu-engine-", dir="/var/tmp"))
        self.root.chmod(0o755)
        self.tls = tls
        self.pidfile = self.root / "dockerd.pid"
        dockerd = [
            "dockerd",
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.pidfile}",
            # The first engine owns docker0 and the iptables rules; builds run without a network.
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
        ]
        if tls:
            server, self.certs = make_tls(self.root / "tls")
            self.host = f"tcp://127.0.0.1:{free_port()}"
            dockerd += [
                f"--host={self.host}",
                "--tlsverify",
                f"--tlscacert={server / 'ca.pem'}",
                f"--tlscert={server / 'cert.pem'}",
                f"--tlskey={server / 'key.pem'}",
            ]
        else:
            self.host = f"unix://{self.root / 'docker.sock'}"
            dockerd.append(f"--host={self.host}")
        masks = [f'mount -t tmpfs -o size=1m,mode=0755 none "{p}"' for p in hidden]
        script = " && ".join([*masks, 'exec "$@"'])
        self.log = open(self.root / "dockerd.log", "wb")  # noqa: SIM115 - closed in stop()
        namespace = ["unshare", "--mount", "--propagation", "private"]
        self.process = subprocess.Popen(
            [*as_root(), *namespace, "sh", "-c", script, "sh", *dockerd],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(self.answers, 60, f"the second dockerd on {self.host}")
        except RuntimeError:
            self.stop()
            raise

    def env(self) -> dict[str, str]:
        """What a client needs to use this engine (the Docker CLI's variables)."""
        if not self.tls:
            return {"DOCKER_HOST": self.host}
        return {
            "DOCKER_HOST": self.host,
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": str(self.certs),
        }

    def client(self) -> Any:
        import importlib

        # mypy would resolve `docker` to the repository's docker/ recipe folder.
        docker: Any = importlib.import_module("docker")

        if not self.tls:
            return docker.DockerClient(base_url=self.host, timeout=120, version="1.41")
        client = docker.DockerClient(
            base_url=self.host.replace("tcp://", "https://"),
            tls=docker.tls.TLSConfig(
                client_cert=(str(self.certs / "cert.pem"), str(self.certs / "key.pem")),
                ca_cert=str(self.certs / "ca.pem"),
                verify=True,
            ),
            timeout=120,
            # The judge's own client: pinned to an API every engine here speaks, so the first
            # request comes after trust_env is off (REQUESTS_CA_BUNDLE would replace the CA).
            version="1.41",
        )
        client.api.trust_env = False
        return client

    def answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(
                "the second dockerd exited: "
                + (self.root / "dockerd.log").read_text(errors="replace")[-800:]
            )
        try:
            return bool(self.client().ping())
        except Exception:  # noqa: BLE001 - not up yet
            return False

    def stop(self) -> None:
        pid = self.pidfile.read_text().strip() if self.pidfile.is_file() else ""
        if pid.isdigit():
            subprocess.run([*as_root(), "kill", "-TERM", pid], capture_output=True)
        elif self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            subprocess.run([*as_root(), "kill", "-KILL", pid or str(self.process.pid)])
            self.process.wait()
        self.log.close()
        subprocess.run([*as_root(), "rm", "-rf", str(self.root)], capture_output=True)
