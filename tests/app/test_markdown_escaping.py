"""dashboard.text.md: user strings reach markdown as literal text."""

from __future__ import annotations

import re

import pytest

from dashboard.text import JOINER, md

HOSTILE = '[click](http://evil) **b** <a href="http://x">y</a> ![i](http://img)'


def _plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown).replace(JOINER, "")


@pytest.mark.parametrize("text", [
    HOSTILE, "[Session expired - click here](http://host/)", "![t](http://host/x)", "<img src=x onerror=alert(1)>",
    ":red[alarm] :material/warning: $x^2$", "`code` ~~strike~~ _it_ # not a heading", "a|b|c", "\\[x\\](y)",
])
def test_markdown_syntax_is_escaped_and_reads_the_same(text):
    escaped = md(text)
    assert _plain(escaped) == text
    # no markdown construct survives: every punctuation character is escaped
    assert not re.search(r"(?<!\\)[\[\]()!*<>`_~:$|#]", escaped.replace("\\\\", ""))


@pytest.mark.parametrize("text", ["see http://evil.example/x", "visit www.evil.example", "mail eve@evil.example",
                                  "HTTPS://EVIL.EXAMPLE", "WWW.EVIL.EXAMPLE"])
def test_bare_urls_and_addresses_cannot_autolink(text):
    """Attack: a bare URL is turned into a link by GFM after escapes are resolved; a joiner breaks it."""
    unescaped = re.sub(r"\\(.)", r"\1", md(text))
    assert not re.search(r"(?i)https?://|www\.|\w@\w", unescaped)
    assert _plain(md(text)) == text


def test_newlines_cannot_start_blocks_and_length_is_capped():
    assert md("a\n# heading\n    code\n- item") == "a \\# heading code \\- item"
    assert len(_plain(md("x" * 1000, limit=50))) == 50
