"""The documentation site builds with ``mkdocs build --strict`` and every page renders.

The site is built once into a temporary directory. For each Markdown page the
built HTML must hold the page's headings, its fenced code blocks (same code,
whatever the highlighting) and, for ``::: module`` lines, the rendered API
reference of that module. When Debian's chromium is installed, a headless
browser also renders a few pages to PNG screenshots that must not be blank.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import zlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.S | re.M
)
HEADING = re.compile(r"^(#{1,6}) +(.+?) *#*$", re.M)
API = re.compile(r"^::: +([\w.]+)", re.M)
SPHINX_ROLE = re.compile(r":(?:class|meth|func|exc|attr|data|mod|obj):(?:<code>|`)")
PAGES = sorted(str(page.relative_to(DOCS)) for page in DOCS.rglob("*.md"))
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class _Rendered(HTMLParser):
    """Collects the text of the headings, the ``<pre>`` blocks and the element ids of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[str] = []
        self.code: list[str] = []
        self.ids: set[str] = set()
        self._heading: list[str] | None = None
        self._pre: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self._heading = []
        elif tag == "pre":
            self._pre = []
        elif tag == "a" and "headerlink" in (attributes.get("class") or ""):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"} and self._heading is not None:
            self.headings.append(_normalise("".join(self._heading)))
            self._heading = None
        elif tag == "pre" and self._pre is not None:
            self.code.append("".join(self._pre))
            self._pre = None
        elif tag == "a" and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._heading is not None:
            self._heading.append(data)
        if self._pre is not None:
            self._pre.append(data)


def _normalise(text: str) -> str:
    return " ".join(html.unescape(text).split())


def _markdown_text(heading: str) -> str:
    """The text a Markdown heading renders to: links and code marks removed."""
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    heading = re.sub(r"\{[^}]*\}\s*$", "", heading)
    return _normalise(heading.replace("`", "").replace("**", ""))


def _outside_fences(source: str) -> str:
    return FENCE.sub("", source)


def _html_path(site: Path, page: str) -> Path:
    relative = Path(page)
    if relative.name == "index.md":
        return site / relative.parent / "index.html"
    return site / relative.with_suffix("") / "index.html"


@pytest.fixture(name="site", scope="module")
def _site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built from the repository's mkdocs.yml with warnings turned into errors."""
    site = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return site


def _rendered(site: Path, page: str) -> _Rendered:
    path = _html_path(site, page)
    assert path.is_file(), f"{page} was not built to {path.relative_to(site)}"
    parser = _Rendered()
    parser.feed(path.read_text())
    return parser


def test_docs_site_has_every_page_in_nav() -> None:
    """Every page of docs/ is listed in the navigation, and every listed page exists."""
    config = (ROOT / "mkdocs.yml").read_text()
    nav = config[config.index("\nnav:") :]
    listed = set(re.findall(r":\s*([\w/.-]+\.md)\s*$", nav, re.M))
    # docs/bench/ holds generated results that performance.md includes.
    assert listed == {page for page in PAGES if not page.startswith("bench/")}


@pytest.mark.parametrize("page", PAGES)
def test_docs_page_renders_its_headings(site: Path, page: str) -> None:
    """Each heading written in the page appears as a heading of the built HTML."""
    source = _outside_fences((DOCS / page).read_text())
    rendered = _rendered(site, page)
    expected = [_markdown_text(match[2]) for match in HEADING.finditer(source)]
    assert expected, f"{page} has no heading"
    missing = [heading for heading in expected if heading not in rendered.headings]
    assert not missing, f"headings missing from {page}: {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_docs_page_renders_its_code_blocks(site: Path, page: str) -> None:
    """Each fenced block of the page appears, with the same code, in a ``<pre>`` of the HTML."""
    source = (DOCS / page).read_text()
    rendered = _rendered(site, page)
    blocks = [match["body"] for match in FENCE.finditer(source)]
    rendered_code = [_normalise(code) for code in rendered.code]
    for block in blocks:
        if block.lstrip().startswith("--8<--"):
            continue
        wanted = _normalise(block)
        assert any(wanted in code for code in rendered_code), (
            f"{page}: block not rendered:\n{block}"
        )


@pytest.mark.parametrize("page", [page for page in PAGES if API.search((DOCS / page).read_text())])
def test_docs_page_renders_its_api_reference(site: Path, page: str) -> None:
    """A ``::: module`` line renders the documentation of that module's public objects."""
    rendered = _rendered(site, page)
    for module in API.findall((DOCS / page).read_text()):
        documented = [name for name in rendered.ids if name.startswith(f"{module}.")]
        assert documented, f"{page}: nothing of {module} was rendered"
        exported = getattr(__import__(module, fromlist=["__all__"]), "__all__", [])
        public = [name for name in exported if not name.startswith("_")]
        missing = [name for name in public if f"{module}.{name}" not in rendered.ids]
        assert not missing, f"{page}: {module} objects without documentation: {missing}"
    leaked = SPHINX_ROLE.findall(_html_path(site, page).read_text())
    assert not leaked, f"{page}: Sphinx roles shown verbatim: {leaked}"


def _browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path is not None:
            return path
    return None


def _png_rows(png: bytes) -> Iterator[bytes]:
    """The raw scanlines of an 8-bit RGB or RGBA PNG (filter byte included)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, data = 8, b""
    width = height = channels = 0
    while position < len(png):
        length = int.from_bytes(png[position : position + 4], "big")
        kind = png[position + 4 : position + 8]
        chunk = png[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height = int.from_bytes(chunk[:4], "big"), int.from_bytes(chunk[4:8], "big")
            channels = {2: 3, 6: 4}[chunk[9]]
        elif kind == b"IDAT":
            data += chunk
        position += 12 + length
    raw = zlib.decompress(data)
    stride = 1 + width * channels
    for row in range(height):
        yield raw[row * stride : (row + 1) * stride]


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_docs_api_reference_opens_with_create_client_and_client(site: Path) -> None:
    """The facade's reference starts with create_client and Client; the DEFAULT_* come last."""
    page = _html_path(site, "packages/emcache.md").read_text()
    documented = re.findall(r'id="emcache\.(\w+)"', page)
    assert documented[:3] == ["create_client", "ClientCreation", "Client"]
    constants = [i for i, name in enumerate(documented) if name.startswith("DEFAULT_")]
    assert constants
    assert min(constants) > documented.index("MetaNotSupportedError")


def test_docs_api_reference_shows_default_values(site: Path) -> None:
    """Signatures and constants show values (``timeout = 1.0``), not ``DEFAULT_*`` names."""
    text = _normalise(re.sub(r"<[^>]+>", "", _html_path(site, "packages/emcache.md").read_text()))
    assert "timeout: float | None = 1.0" in text
    assert "max_connections: int = 2" in text
    assert "DEFAULT_TIMEOUT = 1.0" in text
    assert "= DEFAULT_" not in text


def test_docs_module_docstring_example_is_highlighted(site: Path) -> None:
    """The example of emcache's module docstring renders as highlighted Python code."""
    page = _html_path(site, "packages/emcache.md").read_text()
    start = page.index("Create a client with")
    example = page[start : page.index('id="emcache.create_client"')]
    assert '<div class="highlight"><pre>' in example
    assert '<span class="k">await</span>' in example


def test_docs_site_has_dark_mode_toggle_and_site_url(site: Path) -> None:
    """Every page offers the light/dark toggle and a canonical URL under site_url."""
    page = _html_path(site, "index.md").read_text()
    assert 'data-md-color-scheme="slate"' in page
    assert 'data-md-component="palette"' in page
    assert '<link rel="canonical" href="https://emcache.github.io/emcache/">' in page


def test_docs_package_diagram_is_mermaid(site: Path) -> None:
    """The package dependency diagram is a mermaid graph, not ASCII art."""
    page = _html_path(site, "packages/index.md").read_text()
    assert '<pre class="mermaid">' in page
    assert "emcache --&gt; cluster" in page


def test_docs_performance_page_is_for_users(site: Path) -> None:
    """Performance shows the chart, names the peers and says how to reproduce; targets moved."""
    page = _html_path(site, "performance.md").read_text()
    assert '<img alt="' in page
    assert 'src="../bench/chart.png"' in page
    for peer in ("aiomcache", "memcachio", "pymemcache", "emcache-1.3.3"):
        assert peer in page
    assert "hatch run bench:run" in page
    assert "Target</th>" not in page
    targets = _html_path(site, "contributing/performance-targets.md").read_text()
    assert "Target</th>" in targets
    width, height = _png_size(DOCS / "bench" / "chart.png")
    # Shown at the content width (about 750 px) without shrinking its text to nothing.
    assert width <= 1000
    assert height <= 1200


def test_docs_changelog_page_gathers_every_package(site: Path) -> None:
    """The top-level changelog page holds the changelog of every package."""
    rendered = _rendered(site, "changelog.md")
    for package in sorted(p.name for p in (ROOT / "packages").iterdir() if p.is_dir()):
        assert package in rendered.headings
        assert package in rendered.ids


SCREENSHOT_PAGES = [
    "index.md",
    "client-creation.md",
    "view.md",
    "recipes.md",
    "performance.md",
    "operations.md",
    "packages/emcache.md",
]


@pytest.mark.parametrize("page", SCREENSHOT_PAGES)
def test_docs_page_screenshot_is_not_blank(site: Path, page: str, tmp_path: Path) -> None:
    """A headless browser renders the page to an image with content on it, not a blank one."""
    browser = _browser()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install chromium (.ci/run does) to check the rendered pages")
        pytest.skip("no chromium installed (apt-get install -y chromium)")
    screenshot = tmp_path / "page.png"
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,900",
            f"--screenshot={screenshot}",
            _html_path(site, page).as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert screenshot.is_file(), result.stdout + result.stderr
    rows = list(_png_rows(screenshot.read_bytes()))
    distinct_rows = {row[1:] for row in rows}
    # A blank or failed page is one colour; a rendered page has a header, text and code.
    assert len(distinct_rows) > 50
