"""The time a simulated camera drew into its frame, as a barcode a page can read back (glass-to-glass delay).

The top-left of the picture carries :data:`BITS` blocks of :data:`BLOCK` px in :data:`ROWS` rows on a grey
quiet zone: 40 bits of the epoch milliseconds (mod 2^40), then an 8-bit checksum (the sum of those five bytes,
mod 256). Black is Y=16, white Y=235. ``assets/pingan_video.js`` reads it from each presented frame
(``readStamp``), so the delay is measured by the browser's clock against the frame's, on one machine.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BLOCK = 20
COLUMNS = 24
ROWS = 2
TIME_BITS = 40
BITS = TIME_BITS + 8
BLACK, WHITE, QUIET = 16, 235, 128
MARGIN = 4  # the quiet zone around the code
HEIGHT = ROWS * BLOCK + 2 * MARGIN  # the strip the code takes at the top of the frame


def bits_of(epoch_ms: int) -> list[int]:
    """The code's bits, most significant first: the time, then its checksum."""
    value = epoch_ms % (1 << TIME_BITS)
    checksum = sum((value >> (8 * k)) & 0xFF for k in range(TIME_BITS // 8)) & 0xFF
    word = (value << 8) | checksum
    return [(word >> (BITS - 1 - n)) & 1 for n in range(BITS)]


def read_bits(bits: list[int]) -> int | None:
    """The time the bits carry, or ``None`` when the checksum does not match (the reader's check)."""
    word = 0
    for bit in bits:
        word = (word << 1) | bit
    value, checksum = word >> 8, word & 0xFF
    return value if sum((value >> (8 * k)) & 0xFF for k in range(TIME_BITS // 8)) & 0xFF == checksum else None


def draw(luma: npt.NDArray[np.uint8], epoch_ms: int) -> None:
    """Draw the code for ``epoch_ms`` into the top-left of a frame's luma plane (in place)."""
    luma[:HEIGHT, : COLUMNS * BLOCK + 2 * MARGIN] = QUIET
    for n, bit in enumerate(bits_of(epoch_ms)):
        row, column = divmod(n, COLUMNS)
        top, left = MARGIN + row * BLOCK, MARGIN + column * BLOCK
        luma[top: top + BLOCK, left: left + BLOCK] = WHITE if bit else BLACK


def read(luma: npt.NDArray[np.uint8]) -> int | None:
    """Read the code back from a luma plane (the centre of each block, thresholded halfway)."""
    bits = []
    for n in range(BITS):
        row, column = divmod(n, COLUMNS)
        top, left = MARGIN + row * BLOCK, MARGIN + column * BLOCK
        centre = luma[top + BLOCK // 4: top + 3 * BLOCK // 4, left + BLOCK // 4: left + 3 * BLOCK // 4]
        bits.append(int(float(centre.mean()) > (BLACK + WHITE) / 2))
    return read_bits(bits)
