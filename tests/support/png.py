"""A tiny PNG reader for screenshots (8-bit RGB or RGBA, not interlaced, as chromium writes
them): enough to tell a rendered page from a blank one, without an imaging library."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    pixels: list[tuple[int, int, int]]
    """Row by row, RGB (alpha dropped)."""

    def colours(self) -> set[tuple[int, int, int]]:
        return set(self.pixels)

    def luminance_variance(self) -> float:
        values = [(299 * r + 587 * g + 114 * b) / 1000 for r, g, b in self.pixels]
        mean = sum(values) / len(values)
        return sum((v - mean) ** 2 for v in values) / len(values)


def read_png(data: bytes) -> Image:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    position, header, compressed = 8, None, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        chunk = data[position + 8:position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            compressed += chunk
        elif kind == b"IEND":
            break
    assert header is not None, "no IHDR chunk"
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, f"unsupported PNG {header}"
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(compressed)
    stride = width * channels
    previous = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for index in range(stride):
            left = line[index - channels] if index >= channels else 0
            up = previous[index]
            if kind == 1:
                line[index] = (line[index] + left) & 0xFF
            elif kind == 2:
                line[index] = (line[index] + up) & 0xFF
            elif kind == 3:
                line[index] = (line[index] + (left + up) // 2) & 0xFF
            elif kind == 4:
                upper_left = previous[index - channels] if index >= channels else 0
                guess = left + up - upper_left
                distances = (abs(guess - left), abs(guess - up), abs(guess - upper_left))
                nearest = left if distances[0] <= distances[1] and distances[0] <= distances[2] else \
                    up if distances[1] <= distances[2] else upper_left
                line[index] = (line[index] + nearest) & 0xFF
        pixels.extend(zip(line[0::channels], line[1::channels], line[2::channels]))
        previous = line
    return Image(width, height, pixels)
