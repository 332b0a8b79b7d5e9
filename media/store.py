"""Where photos are kept, by content hash: a local directory (the default) or an S3-compatible object store.

A picture is written once under its hash (``photos/<sha256>.jpg`` with its thumbnail under ``thumbs/``)
and never changed, so writing it again is harmless and any copy can be checked against its name. The
S3 store takes the bucket from ``MEDIA_S3_BUCKET`` and everything else (endpoint, credentials, region)
from the client's own configuration (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ... or
``~/.aws/config``), so any S3-compatible server can be named without a setting of ours.
"""

from __future__ import annotations

import os
import re
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from settings import Settings
from urls import URL, path

HASH = re.compile(r"^[0-9a-f]{64}$")


class Variant(StrEnum):
    PHOTO = "photo"
    THUMB = "thumb"


def key_of(variant: Variant, sha256: str) -> str:
    """The object key of a picture (a hash that is not one is refused: keys are built from requests)."""
    if not HASH.match(sha256):
        raise ValueError(f"not a content hash: {sha256[:80]!r}")
    return f"{variant.value}s/{sha256}.jpg"


def media_url(variant: Variant, sha256: str) -> str:
    """Where pages fetch a picture (routes/media.py decides who may)."""
    return path(URL.MEDIA, variant=variant.value, name=f"{sha256}.jpg")


class MediaStore(Protocol):
    """Keeps pictures by key (:func:`key_of`)."""

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes | None: ...


class LocalMediaStore:
    """Pictures as files under ``root`` (``root/photos/<sha256>.jpg``), written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, data: bytes, content_type: str) -> None:
        target = self.root / key
        if target.exists():
            return  # the same content, by its name
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
            partial.write(data)
            partial.flush()
            os.fsync(partial.fileno())
        os.replace(partial.name, target)  # a reader sees the whole picture or none

    def get(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None


class S3MediaStore:
    """Pictures as objects in an S3-compatible bucket (made on first use if missing)."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        import boto3  # only an installation that keeps its pictures in S3 pays for the import
        from botocore.config import Config

        self.bucket = bucket
        self.client = client or boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 5}))
        self._ensure_bucket()

    def _ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket"}:
                raise
            self.client.create_bucket(Bucket=self.bucket)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise


def open_store(settings: Settings) -> MediaStore:
    """The store the settings name: S3 when ``MEDIA_S3_BUCKET`` is set, else ``MEDIA_DIR``."""
    if settings.media_s3_bucket:
        return S3MediaStore(settings.media_s3_bucket)
    return LocalMediaStore(settings.media_dir or settings.var_dir / "media")
