"""Debian's nginx run as a plain process with DTQ's own configuration (deploy/nginx): the tests,
the local rollout and the native run of the compose services all go through here."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx

from deploy.nginx.render import api_servers, render

NGINX_DIR = Path(__file__).resolve().parents[1] / "nginx"
MIME_TYPES = Path("/etc/nginx/mime.types")
# directive -> directory under the prefix
TEMP_DIRS = {"client_body_temp_path": "body", "proxy_temp_path": "proxy",
             "fastcgi_temp_path": "fastcgi", "uwsgi_temp_path": "uwsgi",
             "scgi_temp_path": "scgi"}  # fmt: skip


def nginx_binary() -> str | None:
    """nginx on PATH or in /usr/sbin (Debian's package), or None."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None


def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


class LocalNginx:
    """nginx in its own prefix directory: deploy/nginx/nginx.conf, the rendered site, temp files
    and logs under `prefix`; reloads swap the API upstream as a rollout does."""

    def __init__(
        self,
        prefix: Path,
        port: int,
        apis: list[str],
        ui_root: Path,
        max_body_bytes: int = 16 * 1024 * 1024,
        host: str = "127.0.0.1",
    ) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx)")
        self.binary = binary
        self.prefix = prefix
        self.port = port
        self.host = host
        self.apis = list(apis)
        self.ui_root = ui_root
        self.max_body_bytes = max_body_bytes
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://{host}:{port}"
        self._write_main()
        self.write_site(self.apis)

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def error_log(self) -> Path:
        """nginx's warnings and errors (also on its stderr)."""
        return self.prefix / "error.log"

    def upstream_errors(self) -> list[str]:
        """Error-log lines about an API instance failing a request (nginx may have retried it
        on another: a clean drain has none)."""
        if not self.error_log.exists():
            return []
        return [line for line in self.error_log.read_text().splitlines() if "upstream" in line]

    def _write_main(self) -> None:
        (self.prefix / "conf.d").mkdir(parents=True, exist_ok=True)
        for sub in TEMP_DIRS.values():
            (self.prefix / sub).mkdir(exist_ok=True)
        shutil.copy(NGINX_DIR / "nginx.conf", self.conf)
        shutil.copy(MIME_TYPES, self.prefix / "mime.types")
        # http-level paths that Debian's build puts under /var/lib/nginx (root's)
        (self.prefix / "conf.d" / "00-local-paths.conf").write_text(
            "".join(f"{name} {self.prefix / sub};\n" for name, sub in TEMP_DIRS.items())
        )

    def write_site(self, apis: list[str], down: frozenset[str] = frozenset()) -> None:
        """Render conf.d/dtq.conf for these API instances (those in `down` drained)."""
        text = render(
            {
                "DTQ_LISTEN": f"{self.host}:{self.port}",
                "DTQ_API_SERVERS": api_servers(apis, down),
                "DTQ_UI_ROOT": str(self.ui_root),
                "DTQ_MAX_BODY_BYTES": str(self.max_body_bytes),
            }
        )
        (self.prefix / "conf.d" / "dtq.conf").write_text(text)

    def _args(self) -> list[str]:
        globals_ = f"daemon off; pid {self.prefix / 'nginx.pid'}; error_log {self.error_log} warn;"
        if os.geteuid() == 0:  # workers as this user, so they can write the temp directories
            globals_ += f" user {getpass.getuser()};"
        return [self.binary, "-p", str(self.prefix), "-c", str(self.conf), "-e", "stderr",
                "-g", globals_]  # fmt: skip

    def test(self) -> subprocess.CompletedProcess[str]:
        """`nginx -t` on the configuration as it is now."""
        return subprocess.run([*self._args(), "-t"], capture_output=True, text=True, check=False)

    def start(self, timeout: float = 10) -> None:
        """Start nginx and wait until it answers."""
        checked = self.test()
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{checked.stderr}")
        self.proc = subprocess.Popen(self._args())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start listening")

    def workers(self) -> set[int]:
        """The worker processes' pids."""
        assert self.proc is not None
        return _children(self.proc.pid)

    def reload(self, apis: list[str], down: frozenset[str] = frozenset()) -> set[int]:
        """Point the upstream at `apis` (minus `down`) and reload gracefully; returns the old
        workers' pids (they finish their requests, then exit)."""
        assert self.proc is not None
        self.write_site(apis, down)
        checked = self.test()
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{checked.stderr}")
        old = self.workers()
        self.proc.send_signal(signal.SIGHUP)
        # wait until the master has started the new workers: a reload right after this one
        # must count them among its old ones (signals sent close together can also coalesce)
        deadline = time.monotonic() + 10
        while not self.workers() - old:
            if time.monotonic() > deadline:
                raise TimeoutError("nginx did not start new workers after the reload")
            time.sleep(0.01)
        return old

    def wait_gone(self, pids: set[int], timeout: float = 15) -> float:
        """Wait until these (old) workers have exited; the seconds it took."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if not pids & self.workers():
                return time.monotonic() - start
            time.sleep(0.05)
        raise TimeoutError(f"old nginx workers {sorted(pids)} still running after {timeout} s")

    def stop(self) -> None:
        """Graceful stop (SIGQUIT), then kill after 15 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
