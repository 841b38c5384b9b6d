"""The enrollment QR code, drawn here as inline SVG: the secret never leaves for a remote service."""

from __future__ import annotations

import segno
from markupsafe import Markup

QR_SCALE = 5
QR_BORDER_MODULES = 4  # the quiet zone the QR specification asks for
QR_DARK = "#000000"
QR_LIGHT = "#ffffff"  # explicit: segno's default is transparent, unreadable on a dark page


def qr_svg(data: str, *, label: str) -> Markup:
    """An accessible inline SVG of ``data``; segno escapes the title, the data is drawn, not written."""
    svg = segno.make(data, error="m").svg_inline(
        scale=QR_SCALE, border=QR_BORDER_MODULES, dark=QR_DARK, light=QR_LIGHT, title=label, svgclass="qr-svg",
        omitsize=True,  # a viewBox instead of a fixed size: CSS scales the code instead of cropping it
    )
    # role=img + the <title> give screen readers a name; markupsafe keeps Jinja from escaping it.
    return Markup(svg.replace("<svg ", '<svg role="img" aria-label="{}" '.format(Markup.escape(label)), 1))
