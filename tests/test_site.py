"""The static website (``make site``): built from the committed notebooks, opened page by page in Chromium.

The site is built once for this module into a temporary folder, served on 127.0.0.1 by the
standard library's HTTP server, and every page is loaded in headless Chromium (Debian's, driven
by Playwright, as in test_browser.py): no internal link may be broken (its page and its anchor
must exist), no picture may be missing, every chapter shows its pictures, and the search finds
"hash tag".
"""
from __future__ import annotations

import functools
import http.server
import sys
import threading
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from test_browser import browser  # noqa: F401  (the module's Chromium)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import build_site  # noqa: E402  (scripts/ is not a package)

CHAPTERS = [p.stem for p in build_site.CHAPTERS]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    assert build_site.build(out) == 0, "the site build failed or warned (see the output above)"
    return out


@pytest.fixture(scope="module")
def served(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test reports what matters
        pass


def _pages(site: Path) -> list[str]:
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html") if "_static" not in p.parts)


@pytest.fixture(scope="module")
def opened(browser, served, site):  # noqa: F811
    """Every page loaded once: page -> (its links, its pictures, its anchors)."""
    page = browser.new_page()
    found = {}
    try:
        for name in _pages(site):
            page.goto(served + name, wait_until="load")
            found[name] = page.evaluate("""() => ({
                links: [...document.querySelectorAll('a[href]')].map(a => a.href),
                images: [...document.querySelectorAll('img')].map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0})),
                anchors: [...document.querySelectorAll('[id]')].map(e => e.id),
            })""")
    finally:
        page.close()
    return found


def test_every_chapter_the_guides_and_the_solutions_have_a_page(site):
    pages = set(_pages(site))
    assert {f"notebooks/{stem}.html" for stem in CHAPTERS} <= pages
    assert {f"solutions/{stem}.html" for stem in CHAPTERS} <= pages
    assert {"index.html", "search.html", "docs/facilitator.html", "docs/workshop.html", "docs/glossary.html",
            "notebooks/host_board.html"} <= pages


def test_no_internal_link_is_broken(opened, served):
    anchors = {served + name: set(found["anchors"]) for name, found in opened.items()}
    broken = []
    for name, found in opened.items():
        for link in found["links"]:
            if not link.startswith(served):
                continue  # another site: not this test's to check
            target, _, fragment = link.partition("#")
            target = target.split("?")[0] or served + name
            if target.endswith("/"):
                target += "index.html"
            if target not in anchors:
                broken.append(f"{name}: {link} (no such page)")
            elif fragment and fragment not in anchors[target]:
                broken.append(f"{name}: {link} (no such anchor)")
    assert not broken, "\n".join(broken[:20])


def test_no_picture_is_missing(opened):
    missing = [f"{name}: {image['src']}" for name, found in opened.items() for image in found["images"]
               if not image["ok"]]
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("stem", CHAPTERS)
def test_every_chapter_page_shows_its_pictures_and_what_it_needs(opened, site, stem):
    found = opened[f"notebooks/{stem}.html"]
    assert [image for image in found["images"] if image["ok"]], f"{stem} shows no picture"
    text = (site / "notebooks" / f"{stem}.html").read_text()
    assert "Runs on:" in text and f"../solutions/{stem}.html" in text
    needs = build_site.needs_by_chapter()[stem]
    if needs != "nothing":  # the README's own words, after a heading that says what they are
        assert "Needs <code class=\"docutils literal notranslate\"><span class=\"pre\">redis-server</span></code> for:" in text


def test_the_search_finds_hash_tag(browser, served):  # noqa: F811
    page = browser.new_page()
    try:
        page.goto(urljoin(served, "search.html?q=hash+tag"), wait_until="load")
        page.wait_for_selector("#search-results ul.search li", timeout=30_000)
        hits = page.eval_on_selector_all("#search-results ul.search li a", "links => links.map(a => a.href)")
    finally:
        page.close()
    pages = {urlsplit(hit).path for hit in hits}
    assert "/notebooks/08_scaling_out.html" in pages
    assert "/docs/glossary.html" in pages

