"""User strings shown as text: the one escape every user string goes through before markdown.

Streamlit renders markdown in ``st.markdown``, captions, alerts, toasts,
progress text, widget and button labels, help tooltips and radio options: a
model called ``[Session expired](http://evil)`` would be a link,
``![x](http://host/x)`` an image fetched from someone else's server, and a bare
``http://…`` an autolink. :func:`md` turns any string into markdown that shows
exactly its characters. (Select box and multiselect options, table cells and
chart labels are plain text already: they take the raw string.)
"""

from __future__ import annotations

import re

# Every ASCII punctuation character may be backslash-escaped in CommonMark: that stops links, images,
# emphasis, HTML, Streamlit's ``:color[...]`` directives and ``$...$`` maths.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# GFM autolinks (``http://x``, ``www.x``, ``a@b.c``) are found in the text *after* escapes are
# resolved, so they are broken with an invisible WORD JOINER instead.
_AUTOLINK = re.compile(r"://|(?i:w)(?=(?i:ww)\.)|@")
JOINER = "\u2060"
MAX_SHOWN = 300


def _break_autolink(m: re.Match[str]) -> str:
    found = m.group(0)
    return f":{JOINER}//" if found == "://" else f"{JOINER}@" if found == "@" else f"{found}{JOINER}"


def md(value: object, *, limit: int = MAX_SHOWN) -> str:
    """``value`` as markdown that renders as its literal text, on one line, at most ``limit`` characters."""
    text = " ".join(str(value).split())  # newlines would start headings, lists or code blocks
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _PUNCTUATION.sub(r"\\\1", _AUTOLINK.sub(_break_autolink, text))
