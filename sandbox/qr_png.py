"""A real, scannable QR code as PNG: what the sandbox's showqrcode serves.

WeChat's showqrcode answers a JPEG of about 430 px encoding the code's ``url``;
the sandbox answers a PNG of the same size and content (the scan URL of its
chat page), so a phone camera, a QR decoder or a poster built from it works
as with WeChat. PNG rather than JPEG: lossless, so tests can read the modules
back exactly.
"""
from __future__ import annotations

import io

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

BOX_PIXELS = 10  # pixels per module: a version-4/5 code comes out near WeChat's 430 px
BORDER_MODULES = 4  # the quiet zone the QR standard asks for


def qr_matrix(data: str, *, border: int = BORDER_MODULES) -> list[list[bool]]:
    """The modules of the QR code for ``data`` (True = dark), quiet zone included."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=border)
    code.add_data(data)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def qr_png(data: str, *, box: int = BOX_PIXELS) -> bytes:
    """PNG bytes of the QR code for ``data``, ``box`` pixels per module, black on white."""
    matrix = qr_matrix(data)
    side = len(matrix)
    # One pixel per module, then an exact integer upscale: every module stays square.
    small = Image.new("L", (side, side), 255)
    small.putdata([0 if dark else 255 for row in matrix for dark in row])
    image = small.resize((side * box, side * box), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
