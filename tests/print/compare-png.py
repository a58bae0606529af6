#!/usr/bin/env python3
"""Compares two PNG images (8-bit RGB or RGBA, not interlaced, as cairo
and the renderer write them): the same size, and a mean absolute channel
difference below a tolerance (default 2.0 of 255), so that the same
rendering on another build of the same fonts passes and a changed layout
or renderer does not.  Prints the figures; exit 0 when alike, 1 when not.

Usage: compare-png.py EXPECTED ACTUAL [TOLERANCE]
"""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        raise ValueError(f"{path}: only 8-bit RGB or RGBA, not interlaced")
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(idat)
    pixels, prev, i = bytearray(), bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        pixels += line if bpp == 3 else bytes(v for k, v in enumerate(line) if k % 4 != 3)
        prev = line
    return width, height, pixels


def main():
    expected, actual = sys.argv[1], sys.argv[2]
    tolerance = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    w1, h1, p1 = decode(expected)
    w2, h2, p2 = decode(actual)
    if (w1, h1) != (w2, h2):
        print(f"{actual}: {w2} x {h2} pixels, {expected} has {w1} x {h1}")
        return 1
    mean = sum(abs(x - y) for x, y in zip(p1, p2)) / len(p1)
    print(f"{actual}: {w2} x {h2}, mean channel difference {mean:.3f} (tolerance {tolerance})")
    return 0 if mean < tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
