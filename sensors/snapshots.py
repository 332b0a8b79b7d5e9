"""A camera alert's snapshot: what the camera saw when it raised the alert, checked and kept as evidence.

The ingest contract (docs/ingest.md) lets an alert from a device with a camera (``camera``, ``behaviour``,
``throwing_camera``) carry its snapshot in the entry itself: the field ``snapshot``, the picture (JPEG, PNG or
WebP) in base64, at most :data:`MAX_BYTES` once decoded. Inline rather than a reference into a store the
producer writes to: the sensor platform needs no access to the product's store, the picture travels (and is
acknowledged) with its alert, and a stream entry of a few hundred kilobytes is cheap for Redis at alert rates.

It is checked like a grid worker's photo (:func:`media.photos.clean`: a real picture that decodes completely,
re-encoded without metadata) and kept in the media store by content hash. A snapshot that fails is refused
with a reason, and the alert is kept without it: a fight seen by a camera is still a fight when its picture
is damaged. The refused snapshot goes to the dead letters with the reason, for the platform's people.
"""

from __future__ import annotations

import base64
import binascii
from enum import StrEnum

from geo.devices import VIDEO_TYPES, Device
from media.photos import CONTENT_TYPE, PhotoRefused, clean
from media.store import MediaStore, Variant, key_of

MAX_BYTES = 512 * 1024  # a camera's still at 1080p is 200-400 KB
MAX_FIELD_CHARS = (MAX_BYTES + 2) // 3 * 4  # the same in base64


class SnapshotProblem(StrEnum):
    """Why a snapshot was refused, besides :class:`media.photos.Refusal`'s reasons."""

    NO_CAMERA = "no_camera"  # the device has no camera
    NOT_BASE64 = "not_base64"
    NOT_KEPT = "not_kept"  # this consumer keeps no pictures (a test's, a tool's)


class SnapshotRefused(ValueError):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"snapshot: {reason}" + (f" ({detail})" if detail else ""))
        self.reason = reason


def take(encoded: str, device: Device, media: MediaStore | None) -> str:
    """Check, clean and keep a snapshot; its content hash, or :class:`SnapshotRefused` with a reason."""
    if device.type not in VIDEO_TYPES:
        raise SnapshotRefused(SnapshotProblem.NO_CAMERA, device.type)
    if len(encoded) > MAX_FIELD_CHARS:
        raise SnapshotRefused("too_large", f"{len(encoded)} base64 characters, at most {MAX_FIELD_CHARS}")
    try:
        picture = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SnapshotRefused(SnapshotProblem.NOT_BASE64, str(exc)[:60]) from None
    if len(picture) > MAX_BYTES:
        raise SnapshotRefused("too_large", f"{len(picture)} bytes, at most {MAX_BYTES}")
    try:
        cleaned = clean(picture)
    except PhotoRefused as exc:
        raise SnapshotRefused(exc.reason.value, str(exc)[:100]) from None
    if media is None:
        raise SnapshotRefused(SnapshotProblem.NOT_KEPT)
    media.put(key_of(Variant.PHOTO, cleaned.sha256), cleaned.data, CONTENT_TYPE)
    media.put(key_of(Variant.THUMB, cleaned.sha256), cleaned.thumb, CONTENT_TYPE)
    return cleaned.sha256
