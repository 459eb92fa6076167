"""Visual preview for reviewers: a procedural test chart rendered with an intent's adjust and selective_adjust.

This is an approximation of the app's colour tools with NumPy, good enough to show the *direction and size* of a
ground-truth change side by side (warmer, flatter, greener skies…), not a pixel-exact reproduction of the app.
LUT filters are never simulated: a preview names the filter and its intensity instead of inventing its look.

The chart (`reference_chart()`) is generated in code, so nothing binary ships with the project: the 24 patches of the
classic ColorChecker (skin tones, blue sky, foliage, primaries, a neutral row) above a sky gradient, a foliage
gradient, a luminance ramp and a hue ramp.

Approximation of each parameter (value `v` in the tool's range, `v / 100` written `k`), applied in this order on
RGB in [0, 1]:

- `exposure`: ±2 stops in linear light (gamma 2.2): `lin * 2 ** (2k)`; `linearOffset`: `lin + 0.1k`.
- `brightness`: a mid-tone gamma curve `x ** 2 ** (-k)` (highlights and blacks stay put).
- `contrast`: around mid-grey, `(x - 0.5) * (1 + k) + 0.5`.
- `highlights` / `shadows`: `± 0.25k` added, weighted by a smooth mask of bright (luma > 0.5) / dark (< 0.5) pixels.
- `saturation`: chroma scaled by `1 + k`; `vibrance`: the same, weighted by how unsaturated a pixel is.
- `temperature`: red `+0.1k`, blue `-0.1k`; `tint`: green `-0.1k`, red and blue `+0.05k` (positive = magenta).
- `hue` (0…360): rotation of the colour around the grey axis by that many degrees.
- `bloom`: a blurred copy of the highlights (above 0.7) added with weight `k`.
- `sharpen`: unsharp mask of radius 1, amount `k`; `structure`: local contrast, unsharp mask of radius 4, `0.5k`.
- `selective_adjust`: per colour range (centre hue red 0°, orange 30°, yellow 60°, green 120°, cyan 180°, blue 240°,
  triangular weight over the half-width below, scaled by the pixel's chroma so greys are untouched), `saturation`
  scales the chroma by `1 + w·k` and `luminance` scales the pixel by `1 + 0.5·w·k`.

Images are encoded as PNG by hand (zlib + struct; no Pillow dependency) and embedded as `data:` URIs.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from functools import cache
from typing import Any

import numpy as np

# ColorChecker Classic patches, sRGB 0-255, row by row (published reference values, rounded).
COLORCHECKER: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("dark skin", (115, 82, 68)),
    ("light skin", (194, 150, 130)),
    ("blue sky", (98, 122, 157)),
    ("foliage", (87, 108, 67)),
    ("blue flower", (133, 128, 177)),
    ("bluish green", (103, 189, 170)),
    ("orange", (214, 126, 44)),
    ("purplish blue", (80, 91, 166)),
    ("moderate red", (193, 90, 99)),
    ("purple", (94, 60, 108)),
    ("yellow green", (157, 188, 64)),
    ("orange yellow", (224, 163, 46)),
    ("blue", (56, 61, 150)),
    ("green", (70, 148, 73)),
    ("red", (175, 54, 60)),
    ("yellow", (231, 199, 31)),
    ("magenta", (187, 86, 149)),
    ("cyan", (8, 133, 161)),
    ("white", (243, 243, 242)),
    ("neutral 8", (200, 200, 200)),
    ("neutral 6.5", (160, 160, 160)),
    ("neutral 5", (122, 122, 121)),
    ("neutral 3.5", (85, 85, 85)),
    ("black", (52, 52, 52)),
)
PATCH = 20  # patch size in pixels
COLUMNS = 6
CHART_WIDTH = PATCH * COLUMNS  # 120
RAMP_HEIGHT = 10
CHART_HEIGHT = PATCH * 4 + 4 * RAMP_HEIGHT  # 120

# Selective-adjust colour ranges: centre hue and half-width in degrees.
COLOUR_RANGES: dict[str, tuple[float, float]] = {
    "red": (0.0, 30.0),
    "orange": (30.0, 25.0),
    "yellow": (60.0, 30.0),
    "green": (120.0, 60.0),
    "cyan": (180.0, 45.0),
    "blue": (240.0, 60.0),
}
_LUMA = np.array([0.2126, 0.7152, 0.0722])


@cache
def reference_chart() -> np.ndarray:
    """The chart as float RGB in [0, 1], shape (CHART_HEIGHT, CHART_WIDTH, 3); deterministic."""
    image = np.zeros((CHART_HEIGHT, CHART_WIDTH, 3))
    for index, (_, rgb) in enumerate(COLORCHECKER):
        row, column = divmod(index, COLUMNS)
        image[row * PATCH : (row + 1) * PATCH, column * PATCH : (column + 1) * PATCH] = np.array(rgb) / 255.0
    t = np.linspace(0.0, 1.0, CHART_WIDTH)[:, None]
    top = PATCH * 4
    sky = (1 - t) * np.array([0.32, 0.50, 0.80]) + t * np.array([0.80, 0.88, 0.96])
    foliage = (1 - t) * np.array([0.12, 0.25, 0.08]) + t * np.array([0.55, 0.72, 0.30])
    luminance = np.repeat(t, 3, axis=1)
    hue_ramp = _hsv_to_rgb(t[:, 0] * 360.0, 0.7, 0.85)
    for band, colours in enumerate((sky, foliage, luminance, hue_ramp)):
        image[top + band * RAMP_HEIGHT : top + (band + 1) * RAMP_HEIGHT] = colours[None, :, :]
    image.setflags(write=False)
    return image


def _hsv_to_rgb(hue_degrees: np.ndarray, saturation: float, value: float) -> np.ndarray:
    h = (hue_degrees % 360.0) / 60.0
    c = value * saturation
    x = c * (1 - np.abs(h % 2 - 1))
    zeros = np.zeros_like(h)
    sector = np.floor(h).astype(int) % 6
    r = np.choose(sector, [c + zeros, x, zeros, zeros, x, c + zeros])
    g = np.choose(sector, [x, c + zeros, c + zeros, x, zeros, zeros])
    b = np.choose(sector, [zeros, zeros, x, c + zeros, c + zeros, x])
    return np.stack([r, g, b], axis=-1) + (value - c)


def _box_blur(image: np.ndarray, radius: int) -> np.ndarray:
    """Separable box blur with edge padding (cumulative sums, O(pixels))."""
    out = image
    for axis in (0, 1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius + 1, radius)
        padded = np.pad(out, pad, mode="edge")
        summed = np.cumsum(padded, axis=axis)
        size = out.shape[axis]
        upper = np.take(summed, np.arange(2 * radius + 1, 2 * radius + 1 + size), axis=axis)
        lower = np.take(summed, np.arange(0, size), axis=axis)
        out = (upper - lower) / (2 * radius + 1)
    return out


def _luma(image: np.ndarray) -> np.ndarray:
    return image @ _LUMA


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _scale_chroma(image: np.ndarray, factor: np.ndarray | float) -> np.ndarray:
    grey = _luma(image)[..., None]
    factor_array = np.asarray(factor)
    if factor_array.ndim == 2:
        factor_array = factor_array[..., None]
    return grey + (image - grey) * factor_array


def _hue_and_chroma(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    maximum = image.max(axis=-1)
    minimum = image.min(axis=-1)
    chroma = maximum - minimum
    safe = np.where(chroma > 1e-9, chroma, 1.0)
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    hue = np.where(
        maximum == r,
        ((g - b) / safe) % 6,
        np.where(maximum == g, (b - r) / safe + 2, (r - g) / safe + 4),
    )
    return np.where(chroma > 1e-9, hue * 60.0, 0.0), chroma


def apply_adjust(image: np.ndarray, adjust: dict[str, Any]) -> np.ndarray:
    """The approximation of `adjust` described in the module docstring; `adjust` is a canonical object."""
    k = {key: float(value) / 100.0 for key, value in adjust.items()}
    x = np.clip(image, 0.0, 1.0)
    if k.get("exposure") or k.get("linearOffset"):
        linear = x**2.2 * 2.0 ** (2.0 * k.get("exposure", 0.0)) + 0.1 * k.get("linearOffset", 0.0)
        x = np.clip(linear, 0.0, 1.0) ** (1 / 2.2)
    if k.get("brightness"):
        x = x ** (2.0 ** (-k["brightness"]))
    if k.get("contrast"):
        x = (x - 0.5) * (1.0 + k["contrast"]) + 0.5
    if k.get("highlights") or k.get("shadows"):
        luma = np.clip(_luma(x), 0.0, 1.0)[..., None]
        x = x + 0.25 * k.get("highlights", 0.0) * _smoothstep(0.5, 1.0, luma)
        x = x + 0.25 * k.get("shadows", 0.0) * (1.0 - _smoothstep(0.0, 0.5, luma))
    if k.get("saturation"):
        x = _scale_chroma(x, 1.0 + k["saturation"])
    if k.get("vibrance"):
        current = np.clip(x, 0, 1).max(axis=-1) - np.clip(x, 0, 1).min(axis=-1)
        x = _scale_chroma(x, 1.0 + k["vibrance"] * (1.0 - current))
    if k.get("temperature") or k.get("tint"):
        temperature, tint = k.get("temperature", 0.0), k.get("tint", 0.0)
        x = x + np.array([0.1 * temperature + 0.05 * tint, -0.1 * tint, -0.1 * temperature + 0.05 * tint])
    if adjust.get("hue"):
        x = _rotate_hue(x, float(adjust["hue"]))
    x = np.clip(x, 0.0, 1.0)
    if k.get("bloom"):
        x = x + k["bloom"] * _box_blur(np.clip(x - 0.7, 0.0, 1.0), 3)
    if k.get("sharpen"):
        x = x + k["sharpen"] * (x - _box_blur(x, 1))
    if k.get("structure"):
        x = x + 0.5 * k["structure"] * (x - _box_blur(x, 4))
    return np.clip(x, 0.0, 1.0)


def _rotate_hue(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotation around the grey axis (the classic RGB hue-rotation matrix)."""
    angle = np.deg2rad(degrees)
    cos, sin = np.cos(angle), np.sin(angle)
    third, root = 1.0 / 3.0, np.sqrt(1.0 / 3.0)
    matrix = np.array(
        [
            [cos + (1 - cos) * third, third * (1 - cos) - root * sin, third * (1 - cos) + root * sin],
            [third * (1 - cos) + root * sin, cos + third * (1 - cos), third * (1 - cos) - root * sin],
            [third * (1 - cos) - root * sin, third * (1 - cos) + root * sin, cos + third * (1 - cos)],
        ]
    )
    return image @ matrix.T


def apply_selective_adjust(image: np.ndarray, selective: dict[str, Any]) -> np.ndarray:
    """The approximation of `selective_adjust` described in the module docstring (canonical object)."""
    x = np.clip(image, 0.0, 1.0)
    hue, chroma = _hue_and_chroma(x)
    for colour, (centre, half_width) in COLOUR_RANGES.items():
        values = selective.get(colour) or {}
        saturation = float(values.get("saturation", 0)) / 100.0
        luminance = float(values.get("luminance", 0)) / 100.0
        if not saturation and not luminance:
            continue
        distance = np.abs((hue - centre + 180.0) % 360.0 - 180.0)
        weight = np.clip(1.0 - distance / half_width, 0.0, 1.0) * np.clip(chroma * 2.0, 0.0, 1.0)
        x = _scale_chroma(x, 1.0 + weight * saturation)
        x = x * (1.0 + 0.5 * weight * luminance)[..., None]
    return np.clip(x, 0.0, 1.0)


def render(adjust_json: str | None, selective_json: str | None) -> np.ndarray:
    """The chart with the canonical adjust then selective_adjust applied; uint8 RGB."""
    image = reference_chart()
    if adjust_json:
        image = apply_adjust(image, json.loads(adjust_json))
    if selective_json:
        image = apply_selective_adjust(image, json.loads(selective_json))
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def encode_png(pixels: np.ndarray) -> bytes:
    """8-bit RGB PNG of a (height, width, 3) uint8 array: signature, IHDR, one IDAT (filter 0 per row), IEND."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError("encode_png expects a (height, width, 3) uint8 array")
    height, width, _ = pixels.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = np.concatenate([np.zeros((height, 1), np.uint8), pixels.reshape(height, width * 3)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit, truecolour, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


def png_data_uri(pixels: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(encode_png(pixels)).decode("ascii")


def preview_uri(adjust_json: str | None, selective_json: str | None) -> str:
    """The rendered chart as an inline `data:image/png;base64,…` URI for the HTML report."""
    return png_data_uri(render(adjust_json, selective_json))


# --- the previewer interface `databuild.packs.previewer` hands to the diff report --------------------------------

PREVIEW_TOOLS = ("adjust", "selective_adjust")  # changes to these tools get a picture
NOTE = (
    "The test chart rendered with each version's adjust and selective_adjust (an approximation of the app's tools, "
    "see <code>databuild/packs/colour/preview.py</code>); LUT filters are named, not simulated."
)
EMPTY_NOTE = "no adjust or selective_adjust changes to preview"


def reference_image() -> str:
    return preview_uri(None, None)


def side_image(outputs: dict[str, str | None]) -> str:
    """The chart for one version's canonical outputs of an intent (tool name -> canonical JSON)."""
    return preview_uri(outputs.get("adjust"), outputs.get("selective_adjust"))


def side_caption(outputs: dict[str, str | None]) -> str:
    lut = json.loads(outputs.get("filter") or '{"name": "none"}')
    return "filter: none" if lut["name"] == "none" else f"filter: {lut['name']} at intensity {lut['intensity']}"
