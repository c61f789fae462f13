"""One self-contained HTML page: plotly.js inlined once, every figure embedded as data, no network.

The page opens from a file, an e-mail attachment or an air-gapped machine: nothing is fetched,
so a report still renders years later. Each figure is a ``div`` plus the inline script that draws it.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone

from autosft.report.study_figures import Section

__all__ = ["DEFAULT_HEIGHT", "render_page"]

#: Pixels of a figure that sets no height of its own (Optuna's plots set none).
DEFAULT_HEIGHT = 450

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1300px; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2rem; margin-top: 2.5rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f4f4f4; } .facts th { width: 10rem; }
.figure { margin: 1rem 0 2rem; min-width: 0; } .wide { grid-column: 1 / -1; overflow-x: auto; }
.scroll { overflow-x: auto; } .note { color: #777; font-style: italic; }
/* auto-fill keeps empty tracks: a figure drawn before its neighbours exist already has its final width */
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(600px, 1fr)); gap: 1rem; }
"""


def render_page(title: str, summary_html: str, sections: list[Section]) -> str:
    """The whole HTML document."""
    from plotly.offline import get_plotlyjs

    body = [f"<h1>{html.escape(title)}</h1>",
            f"<p class='note'>generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by autosft</p>",
            f"<div class='scroll'>{summary_html}</div>"]  # fmt: skip
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2><div class='scroll'>{section.html}</div><div class='grid'>")
        for item in section.figures:
            wide = " wide" if item.wide else ""
            body.append(f"<div class='figure{wide}'><h3>{html.escape(item.title)}</h3>")
            if item.figure is None:
                body.append(f"<p class='note'>{html.escape(item.note)}</p>")
            else:
                # A figure without a height would take 100 % of a div without one: zero pixels.
                height = item.figure.layout.height or DEFAULT_HEIGHT
                body.append(item.figure.to_html(full_html=False, include_plotlyjs=False, default_width="100%",
                                                default_height=f"{height}px",
                                                config={"displaylogo": False, "responsive": True}))  # fmt: skip
            body.append("</div>")
        body.append("</div>")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
