"""The WordPress theme around the chat boxes (Twenty Twenty-One), shared by both generations.

The frame of a page (:func:`body_open`, :func:`article`, :func:`site_footer`), the filler
posts and styles that bring a page to a realistic size (:func:`with_filler`), the 404 page,
and :class:`PageTemplate`: a page rendered once per scenario with slots, into which each GET
only joins the current nonces.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from .wordpress import esc_html

__all__ = [
    "SITE_NAME",
    "PageTemplate",
    "article",
    "body_open",
    "not_found_page",
    "site_footer",
    "split_template",
    "with_filler",
]

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


def _fill(budget: int, piece: Callable[[int], str]) -> str:
    """``piece(1) + piece(2) + ...`` until ``budget`` characters are reached."""
    out: list[str] = []
    size = 0
    n = 0
    while size < budget:
        n += 1
        out.append(piece(n))
        size += len(out[-1])
    return "".join(out)


def _post_card(n: int, base: str) -> str:
    return (
        f'<article id="post-{100 + n}" class="post-{100 + n} post type-post status-publish '
        f'format-standard hentry category-news entry">\n'
        f'<header class="entry-header"><h2 class="entry-title default-max-width">'
        f'<a href="{base}/{_filler_words(n, 3).replace(" ", "-")}-{n}/">'
        f"{esc_html(_filler_words(n + 3, 5).title())}</a></h2></header>\n"
        f'<div class="entry-content"><p>{_filler_words(n, 60)}.</p></div>\n'
        f'<footer class="entry-footer default-max-width"><div class="posted-by">'
        f'<span class="posted-on">Published <time class="entry-date published" '
        f'datetime="2024-0{1 + n % 9}-1{n % 10}T10:00:00+00:00">2024</time></span></div>'
        f"</footer>\n</article>\n"
    )


def _css_rule(n: int) -> str:
    return (
        f".wp-block-theme-{n} .has-preset-{n % 40}{{margin:0 0 {n % 7}em;padding:.{n % 9}em 1em;"
        f"color:var(--wp--preset--color--c{n % 23});font-size:{12 + n % 9}px}}\n"
    )


def with_filler(head: str, body: str, footer: str, page_size: int, base_url: str) -> str:
    """``head + body + footer``, brought to about ``page_size`` UTF-8 bytes: half the shortfall
    as the theme's inline CSS at the end of the head, the rest as recent posts before the footer."""
    budget = max(0, page_size - len((head + body + footer).encode("utf-8")))
    css = posts = ""
    if budget:
        css = f"<style id='twenty-twenty-one-custom-inline-css'>\n{_fill(budget // 2, _css_rule)}</style>\n"
        rest = max(0, budget - len(css))
        if rest:
            cards = _fill(rest, lambda n: _post_card(n, base_url))
            posts = '<section class="recent-posts">\n' + cards + "</section>\n"
    return head + css + body + posts + footer


def body_open(post_id: int) -> str:
    """From ``</head>`` to the opening of ``<main>``: the body tag and the site header."""
    return f"""</head>

<body class="home page-template-default page page-id-{post_id} wp-embed-responsive is-light-theme no-js singular">
<div id="page" class="site">
	<a class="skip-link screen-reader-text" href="#content">Skip to content</a>
<header id="masthead" class="site-header has-title-and-tagline">
<div class="site-branding">
						<h1 class="site-title">{SITE_NAME}</h1>
	</div><!-- .site-branding -->
</header><!-- #masthead -->
	<div id="content" class="site-content">
		<div id="primary" class="content-area">
			<main id="main" class="site-main">
"""


def article(post_id: int, content: str) -> str:
    """The page's ``<article>`` around ``content`` (the chat boxes)."""
    return f"""<article id="post-{post_id}" class="post-{post_id} page type-page status-publish hentry entry">
	<div class="entry-content">
{content}	</div><!-- .entry-content -->
	</article><!-- #post-{post_id} -->
"""


def site_footer() -> str:
    """From ``</main>`` to the end of ``#page``; the scripts and ``</body>`` follow."""
    return f"""			</main><!-- #main -->
		</div><!-- #primary -->
	</div><!-- #content -->
	<footer id="colophon" class="site-footer">
		<div class="site-info"><div class="site-name">{SITE_NAME}</div>
			<div class="powered-by">Proudly powered by <a href="https://wordpress.org/">WordPress</a>.</div>
		</div><!-- .site-info -->
	</footer><!-- #colophon -->
</div><!-- #page -->
"""


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
