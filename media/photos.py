"""A photo from the field, checked and cleaned before it is kept.

Only JPEG, PNG and WebP pictures that decode completely are taken, at most :data:`MAX_BYTES`. Each is
re-encoded as a JPEG: turned upright by its EXIF orientation, then written without any EXIF (so without
the phone's GPS position), at most :data:`MAX_SIDE` pixels on its long side, with a thumbnail for lists.
Anything else is refused with a reason (:class:`PhotoRefused`) and nothing is kept. The content hash
is the cleaned picture's, so the same photo sent twice (a retry on a weak network) is one photo.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024  # as sent by the phone
MAX_PIXELS = 50_000_000  # more is a decompression bomb, not a phone's photo
MAX_SIDE = 2560  # kept pictures are at most this long (a 12 MP phone photo is 4000)
THUMB_SIDE = 320
QUALITY = 85
THUMB_QUALITY = 75
FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
CONTENT_TYPE = "image/jpeg"  # of every kept picture and thumbnail
GPS_IFD = 0x8825


class Refusal(StrEnum):
    """Why a photo was refused (the phone shows ``photo.refused.<reason>``)."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_AN_IMAGE = "not_an_image"
    FORMAT = "format"
    BROKEN = "broken"
    TOO_MANY_PIXELS = "too_many_pixels"


class PhotoRefused(ValueError):
    def __init__(self, reason: Refusal, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason


@dataclass(frozen=True)
class CleanPhoto:
    """A photo as kept: the re-encoded picture, its thumbnail, and what cleaning it found."""

    data: bytes
    thumb: bytes
    sha256: str
    width: int
    height: int
    source_format: str  # JPEG / PNG / WEBP, as sent
    location_removed: bool  # the picture carried a GPS position, which is not kept


def clean(sent: bytes) -> CleanPhoto:
    """Check ``sent`` and re-encode it (see the module's description); :class:`PhotoRefused` if it is not a
    photo we keep."""
    if not sent:
        raise PhotoRefused(Refusal.EMPTY)
    if len(sent) > MAX_BYTES:
        raise PhotoRefused(Refusal.TOO_LARGE, f"{len(sent)} bytes")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(sent)) as probe:
                source_format = str(probe.format)
                if source_format not in FORMATS:
                    raise PhotoRefused(Refusal.FORMAT, source_format)
                if probe.width * probe.height > MAX_PIXELS:
                    raise PhotoRefused(Refusal.TOO_MANY_PIXELS, f"{probe.width}x{probe.height}")
                probe.verify()  # the file's structure (checksums, chunks) before decoding it
            with Image.open(io.BytesIO(sent)) as image:
                location = GPS_IFD in image.getexif()
                image.load()  # the whole picture: a truncated file fails here
                upright = ImageOps.exif_transpose(image)
        except PhotoRefused:
            raise
        except UnidentifiedImageError as exc:
            raise PhotoRefused(Refusal.NOT_AN_IMAGE) from exc
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise PhotoRefused(Refusal.TOO_MANY_PIXELS) from exc
        except (OSError, SyntaxError, ValueError) as exc:  # what Pillow raises for a damaged file
            raise PhotoRefused(Refusal.BROKEN, str(exc)[:100]) from exc
    picture = _rgb(upright)
    picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    data = _jpeg(picture, QUALITY)
    thumb = picture.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return CleanPhoto(data=data, thumb=_jpeg(thumb, THUMB_QUALITY), sha256=hashlib.sha256(data).hexdigest(),
                      width=picture.width, height=picture.height, source_format=source_format,
                      location_removed=location)


def _rgb(image: Image.Image) -> Image.Image:
    """The picture in RGB; transparency (a PNG, a WebP) laid on white rather than black."""
    if image.mode in {"RGBA", "LA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)  # no exif= argument: nothing of the original's
    return out.getvalue()
