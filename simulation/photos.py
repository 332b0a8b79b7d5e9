"""Photos the simulated grid workers take: a generated scene (a building, a door, a sky) with the task's
number and the time written on it, as a phone's JPEG with its GPS position in the EXIF (which the
product removes), so `make run` shows real pictures going through the same checks as a phone's."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 1280, 960
GPS_IFD = 0x8825


def field_photo(rng: np.random.Generator, caption: str, site: tuple[float, float] | None = None) -> bytes:
    """A scene drawn from ``rng`` with ``caption`` on it; ``site`` (lon, lat) goes into the EXIF."""
    def shade() -> tuple[int, int, int]:
        r, g, b = (int(v) for v in rng.integers(60, 200, 3))
        return r, g, b

    image = Image.new("RGB", (WIDTH, HEIGHT), (135, 170, 205))
    draw = ImageDraw.Draw(image)
    ground = int(HEIGHT * rng.uniform(0.6, 0.75))
    draw.rectangle((0, ground, WIDTH, HEIGHT), fill=(110, 110, 100))
    for _ in range(int(rng.integers(2, 5))):  # buildings with windows
        left, width = int(rng.integers(0, WIDTH - 200)), int(rng.integers(180, 420))
        top = int(rng.integers(120, ground - 120))
        draw.rectangle((left, top, left + width, ground), fill=shade(), outline=(40, 40, 40), width=3)
        for wy in range(top + 20, ground - 40, 60):
            for wx in range(left + 20, left + width - 40, 70):
                draw.rectangle((wx, wy, wx + 35, wy + 35), fill=(220, 220, 180))
    draw.rectangle((0, HEIGHT - 70, WIDTH, HEIGHT), fill=(0, 0, 0))
    draw.text((24, HEIGHT - 52), caption, fill=(255, 255, 255), font_size=32)
    exif = Image.Exif()
    if site is not None:
        exif[GPS_IFD] = {1: "N", 2: (float(site[1]), 0.0, 0.0), 3: "E", 4: (float(site[0]), 0.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80, exif=exif.tobytes())
    return out.getvalue()
