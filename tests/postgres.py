"""A PostgreSQL cluster of the tests' own: initdb and pg_ctl on a free port in a temporary directory, stopped at
the end. PostgreSQL refuses to run as root: as root the cluster runs as the `postgres` user (Debian's package
creates it). Skipped only where the server binaries are absent (CI installs Debian's postgresql)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.gateway import free_port

USER, PASSWORD = "mediagw", "s3cret-pw"


def server_binaries() -> Path | None:
    for candidate in (shutil.which("pg_ctl"), *sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)):
        if candidate and (Path(candidate).resolve().parent / "initdb").exists():
            return Path(candidate).resolve().parent
    return None


class PostgresCluster:
    def __init__(self, binaries: Path) -> None:
        self._bin = binaries
        self.directory = Path(tempfile.mkdtemp(prefix="mediagw-pg-"))
        self.port = free_port()
        self._owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self._owner is not None:
            os.chown(self.directory, self._owner.pw_uid, self._owner.pw_gid)
        self._databases = 0

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def init(self) -> PostgresCluster:
        pwfile = self.directory / "pw"
        pwfile.write_text(PASSWORD)
        if self._owner is not None:
            os.chown(pwfile, self._owner.pw_uid, self._owner.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8"
        )
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.directory / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        self._databases += 1
        name = f"test{self._databases}"
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name, env=env)
        return self.url(name)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, tool: str, *args: str, env: dict[str, str] | None = None) -> None:
        command = [str(self._bin / tool), *args]
        if self._owner is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, cwd=self.directory)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr or done.stdout}")
