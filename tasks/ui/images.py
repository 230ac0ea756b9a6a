"""PNG plots inside markdown artifacts, as ``data:image/png;base64`` images the Prefect UI shows.

A path on the disk of whichever machine ran the flow means nothing to a person in the UI; the picture itself
travels in the artifact. Prefect's server stores an artifact of any size, but it also publishes every new
artifact version as an event whose payload holds the artifact's data and description, and it refuses events
over PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES (1,500,000 bytes by default): such an artifact is saved, but its
event is dropped (a warning in the server log, nothing for automations). So one artifact's images are kept
under ARTIFACT_IMAGE_BUDGET, shrunk when a plot alone would not fit.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

# Leaves a third of the 1.5 MB event limit to the markdown text, the description and the event's own fields.
ARTIFACT_IMAGE_BUDGET = 1_000_000  # bytes of base64 text, all the images of one artifact together
PREFIX = "data:image/png;base64,"


def data_uri(png: bytes) -> str:
    return PREFIX + base64.b64encode(png).decode("ascii")


def encoded_size(png: bytes) -> int:
    return len(PREFIX) + 4 * ((len(png) + 2) // 3)


def fit_png(png: bytes, max_chars: int) -> bytes:
    """The PNG itself when its data URI fits in ``max_chars``, else a smaller copy (fewer pixels) that does."""
    if encoded_size(png) <= max_chars:
        return png
    with Image.open(io.BytesIO(png)) as image:
        image.load()
    scale = 0.9 * (max_chars / encoded_size(png)) ** 0.5  # bytes grow about with the pixel count
    while True:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        buffer = io.BytesIO()
        image.resize(size, Image.Resampling.LANCZOS).save(buffer, format="PNG", optimize=True)
        if encoded_size(buffer.getvalue()) <= max_chars or size == (1, 1):
            return buffer.getvalue()
        scale *= 0.8


def title_of(plot: Path) -> str:
    return plot.stem.replace("_", " ")


def images_markdown(plots: Sequence[Path], budget: int = ARTIFACT_IMAGE_BUDGET) -> str:
    """Each plot as an image, under it the file it came from; together at most ``budget`` characters of images."""
    share = budget // max(len(plots), 1)
    parts = []
    for plot in plots:
        png = plot.read_bytes()
        shown = fit_png(png, share)
        resized = "" if shown is png else f", shrunk to {len(shown) // 1024} KB for the UI"
        parts.append(f"![{title_of(plot)}]({data_uri(shown)})\n\n`{plot}` ({len(png) // 1024} KB{resized})")
    return "\n\n".join(parts)
