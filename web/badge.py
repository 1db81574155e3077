"""The build badge: a small SVG saying "passing" or "failing", for READMEs.

Drawn here (two grey/coloured boxes with text), not read from a file, so
the web needs no static assets for it.  ``/api/tenant/{t}/badge`` serves it.
"""

from __future__ import annotations

LABEL = "lockgate"
# (text, colour) by outcome.
PASSING = ("passing", "#2da44e")
FAILING = ("failing", "#cf222e")
# Rough width of one character of 11px sans-serif, and the padding around text.
CHAR = 6.5
PAD = 6


def _width(text: str) -> int:
    return int(len(text) * CHAR + 2 * PAD)


def badge_svg(passed: bool) -> str:
    status, colour = PASSING if passed else FAILING
    left, right = _width(LABEL), _width(status)
    total = left + right
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" '
        f'role="img" aria-label="{LABEL}: {status}">'
        f"<title>{LABEL}: {status}</title>"
        f'<rect width="{left}" height="20" rx="3" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" rx="3" fill="{colour}"/>'
        f'<rect x="{left}" width="4" height="20" fill="{colour}"/>'
        '<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{PAD}" y="14">{LABEL}</text>'
        f'<text x="{left + PAD}" y="14">{status}</text>'
        "</g></svg>"
    )
