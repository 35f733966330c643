"""Remotes for tests: an S3 server on loopback (moto's ThreadedMotoServer, a real S3 protocol
server, no mocks of the client), a fresh bucket per test, and the environment that points s3fs,
boto3 and ``mreg`` subprocesses at it."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class S3Server:
    """A running moto server: its endpoint, and a boto3 client on it."""

    endpoint: str
    server: Any

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}", server)
    finally:
        server.stop()


@dataclass
class Bucket:
    """A fresh bucket on the loopback server, with the environment set for this process (and so
    for the ``mreg`` subprocesses it starts)."""

    name: str
    server: S3Server

    @property
    def url(self) -> str:
        return f"s3://{self.name}/models"

    def keys(self) -> list[str]:
        listed = self.server.client().list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def put(self, key: str, body: bytes) -> None:
        self.server.client().put_object(Bucket=self.name, Key=key, Body=body)


@pytest.fixture
def bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    name = f"b-{uuid.uuid4().hex[:20]}"
    s3_server.client().create_bucket(Bucket=name)
    return Bucket(name, s3_server)


def remote_blob(folder: Path, sha256: str) -> Path:
    """Where a folder remote keeps a blob (the same layout as a store's objects)."""
    return folder / "objects" / "sha256" / sha256[:2] / sha256[2:]
