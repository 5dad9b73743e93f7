"""Fixtures for the fleet tests: SeaweedFS + PostgreSQL started once per test session
(only when an ``s3pg`` test runs), and a collector per test on each backend."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from .services import Postgres, SeaweedFS, run_dir

BACKENDS = ["local", "s3pg"]


@pytest.fixture(scope="session")
def fleet_run() -> Iterator[Path]:
    d = run_dir("wp-fleet-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def seaweed(fleet_run: Path) -> Iterator[SeaweedFS]:
    sw = SeaweedFS.start(fleet_run / "seaweed")
    yield sw
    sw.stop()


@pytest.fixture(scope="session")
def postgres(fleet_run: Path) -> Iterator[Postgres]:
    (fleet_run / "pg").mkdir()
    try:
        pg = Postgres.start(fleet_run / "pg")
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield pg
    pg.stop()


@dataclass
class Backend:
    name: str
    data_dir: Path
    blobs: str | None = None
    db: str | None = None
    extra: dict = field(default_factory=dict)

    def config(self, **kw):
        from workprint.server.config import CollectorConfig

        return CollectorConfig(data_dir=self.data_dir, blobs=self.blobs, db=self.db, **kw)

    def cli_args(self) -> list[str]:
        args = ["--data-dir", str(self.data_dir)]
        if self.blobs:
            args += ["--blobs", self.blobs]
        if self.db:
            args += ["--db", self.db]
        return args


def make_backend(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if name == "local":
        return Backend("local", tmp_path / "server")
    sw: SeaweedFS = request.getfixturevalue("seaweed")
    pg: Postgres = request.getfixturevalue("postgres")
    return Backend("s3pg", tmp_path / "server", blobs=sw.blobs_url(f"t{secrets.token_hex(6)}"),
                   db=pg.create_db(), extra={"seaweed": sw})


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return make_backend(request.param, request, tmp_path)


@pytest.fixture
def fleet(backend: Backend):
    from .helpers import Fleet

    f = Fleet.start(backend)
    yield f
    f.close()
