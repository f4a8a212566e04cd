"""Product pictures for the demo: small SVG cards drawn from the product's data."""
from __future__ import annotations

import os
from xml.sax.saxutils import escape

from webapp.seed.data import ProductSeed

_FONTS = "'PingFang SC','Hiragino Sans GB','Noto Sans CJK SC','Microsoft YaHei',sans-serif"


def image_filename(product: ProductSeed) -> str:
    """File name of a product's picture under static/products/."""
    return f"{product.key}.svg"


def render_product_svg(product: ProductSeed, colors: tuple[str, str]) -> str:
    """A 480x480 card: gradient, a big glyph, the Chinese title and English subtitle."""
    start, end = colors
    title = escape(product.title)
    subtitle = escape(product.subtitle)
    glyph = escape(product.glyph)
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="480" height="480"
     viewBox="0 0 480 480">
  <title>{title} · {subtitle}</title>
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="{start}"/>
      <stop offset="1" stop-color="{end}"/>
    </linearGradient>
  </defs>
  <rect width="480" height="480" rx="36" fill="url(#bg)"/>
  <circle cx="240" cy="190" r="112" fill="#ffffff" fill-opacity="0.92"/>
  <text x="240" y="228" text-anchor="middle" font-family="{_FONTS}" font-size="112"
        font-weight="700" fill="{end}">{glyph}</text>
  <text x="240" y="372" text-anchor="middle" font-family="{_FONTS}" font-size="40"
        font-weight="700" fill="#ffffff">{title}</text>
  <text x="240" y="418" text-anchor="middle" font-family="{_FONTS}" font-size="22"
        fill="#ffffff" fill-opacity="0.9">{subtitle}</text>
</svg>
"""


def write_product_image(directory: str, product: ProductSeed, colors: tuple[str, str]) -> str:
    """Write the picture unless an identical file is there; returns its file name."""
    name = image_filename(product)
    path = os.path.join(directory, name)
    content = render_product_svg(product, colors)
    try:
        with open(path, encoding="utf-8") as existing:
            if existing.read() == content:
                return name
    except FileNotFoundError:
        pass
    os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        out.write(content)
    return name
