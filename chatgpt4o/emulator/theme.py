"""The WordPress theme around the chat boxes (Twenty Twenty-One), shared by both generations.

Filler posts and styles that bring a page to a realistic size, the 404 page, and
:class:`PageTemplate`: a page rendered once per scenario with slots, into which each GET only
joins the current nonces.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from .wordpress import esc_html

__all__ = ["SITE_NAME", "PageTemplate", "filler_css", "filler_posts", "not_found_page", "split_template"]

SITE_NAME = "AI Chat"

_WORDS = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua", "chat", "assistant", "question", "answer", "prompt", "model", "context", "reply", "wordpress", "plugin", "content", "generator", "article", "guide", "tutorial", "update", "release", "notes"]


@dataclasses.dataclass(frozen=True)
class PageTemplate:
    """A pre-rendered page: UTF-8 byte pieces between which the nonces are joined."""

    pieces: tuple[bytes, ...]
    slots: tuple[str, ...]

    def render(self, values: Mapping[str, str]) -> bytes:
        """The page with every slot replaced by ``values[slot]`` (ASCII)."""
        out: list[bytes] = [self.pieces[0]]
        for slot, piece in zip(self.slots, self.pieces[1:]):
            out.append(values[slot].encode("ascii"))
            out.append(piece)
        return b"".join(out)


def split_template(html: str, slots: tuple[str, ...]) -> PageTemplate:
    """Cut ``html`` at every occurrence of one of ``slots``."""
    pieces: list[bytes] = []
    found: list[str] = []
    rest = html
    while True:
        positions = [(rest.find(slot), slot) for slot in slots if slot in rest]
        if not positions:
            pieces.append(rest.encode("utf-8"))
            break
        index, slot = min(positions)
        pieces.append(rest[:index].encode("utf-8"))
        found.append(slot)
        rest = rest[index + len(slot) :]
    return PageTemplate(tuple(pieces), tuple(found))


def _filler_words(seed: int, count: int) -> str:
    words = [_WORDS[(seed * 7 + i * 13 + (i * i) % 11) % len(_WORDS)] for i in range(count)]
    return " ".join(words)


def filler_posts(budget: int, base: str) -> str:
    """Blog-like markup (article cards) of about ``budget`` characters."""
    out: list[str] = []
    size = 0
    n = 0
    while size < budget:
        n += 1
        body = _filler_words(n, 60)
        card = (
            f'<article id="post-{100 + n}" class="post-{100 + n} post type-post status-publish '
            f'format-standard hentry category-news entry">\n'
            f'<header class="entry-header"><h2 class="entry-title default-max-width">'
            f'<a href="{base}/{_filler_words(n, 3).replace(" ", "-")}-{n}/">'
            f"{esc_html(_filler_words(n + 3, 5).title())}</a></h2></header>\n"
            f'<div class="entry-content"><p>{body}.</p></div>\n'
            f'<footer class="entry-footer default-max-width"><div class="posted-by">'
            f'<span class="posted-on">Published <time class="entry-date published" '
            f'datetime="2024-0{1 + n % 9}-1{n % 10}T10:00:00+00:00">2024</time></span></div>'
            f"</footer>\n</article>\n"
        )
        out.append(card)
        size += len(card)
    return "".join(out)


def filler_css(budget: int) -> str:
    out: list[str] = []
    size = 0
    n = 0
    while size < budget:
        n += 1
        rule = (
            f".wp-block-theme-{n} .has-preset-{n % 40}{{margin:0 0 {n % 7}em;padding:.{n % 9}em 1em;"
            f"color:var(--wp--preset--color--c{n % 23});font-size:{12 + n % 9}px}}\n"
        )
        out.append(rule)
        size += len(rule)
    return "".join(out)


def not_found_page(base_url: str) -> bytes:
    """Twenty Twenty-One's 404 page."""
    return f"""<!doctype html>
<html lang="en-US" >
<head>
	<meta charset="UTF-8" />
	<title>Page not found &#8211; {SITE_NAME}</title>
<meta name='robots' content='max-image-preview:large' />
</head>
<body class="error404 hfeed wp-embed-responsive is-light-theme no-js">
<div id="page" class="site">
	<div id="content" class="site-content"><div id="primary" class="content-area"><main id="main" class="site-main">
	<header class="page-header alignwide"><h1 class="page-title">Nothing here</h1></header>
	<div class="error-404 not-found default-max-width"><div class="page-content">
		<p>It looks like nothing was found at this location. Maybe try a search?</p>
		<form role="search" method="get" class="search-form" action="{base_url}/"><input type="search" name="s" /></form>
	</div></div>
	</main></div></div>
</div>
</body>
</html>
""".encode()
