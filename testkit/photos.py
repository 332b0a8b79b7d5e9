"""Pictures for tests: real JPEG / PNG / WebP files made with Pillow, with or without a GPS position."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

GPS_IFD, ORIENTATION = 0x8825, 0x0112


def picture(width: int = 800, height: int = 600, colour: str = "#3a6ea5", label: str = "") -> Image.Image:
    """A picture with a little content (a sky, a ground, a label) so encoders have something to keep."""
    image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height * 2 // 3, width, height), fill="#6b8e23")
    draw.ellipse((width // 10, height // 10, width // 4, height // 4), fill="#ffd700")
    if label:
        draw.text((10, 10), label, fill="white")
    return image


def grainy(width: int, height: int, label: str = "") -> Image.Image:
    """A picture with a phone sensor's grain: it does not compress away (a real photo's file size)."""
    grain = Image.merge("RGB", [Image.effect_noise((width, height), 40) for _ in range(3)])
    return Image.blend(picture(width, height, label=label), grain, 0.35)


def encode(image: Image.Image, fmt: str = "JPEG", gps: tuple[float, float] | None = None,
           orientation: int | None = None, **options: object) -> bytes:
    """``image`` as a file of ``fmt``; ``gps`` (lon, lat) and ``orientation`` go into its EXIF."""
    exif = Image.Exif()
    if gps is not None:
        lon, lat = gps
        exif[GPS_IFD] = {1: "N", 2: _dms(lat), 3: "E", 4: _dms(lon)}
    if orientation is not None:
        exif[ORIENTATION] = orientation
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes(), **options)
    return out.getvalue()


def jpeg(label: str = "", **exif: object) -> bytes:
    return encode(picture(label=label), "JPEG", **exif)  # type: ignore[arg-type]


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return (float(degrees), float(minutes), round(((value - degrees) * 60 - minutes) * 60, 2))
