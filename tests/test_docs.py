"""The README stays short and every link between it and the docs pages lands somewhere.

`make docs` (mkdocs build --strict) checks the same links when the site is built; these checks need
no MkDocs, so they run with the rest of the suite and name the file and link that broke.
"""

import importlib.util
import re
import types
import unicodedata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
README_MAX_LINES = 250


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def _links(path: Path) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", _prose(path.read_text()))


def _slug(heading: str) -> str:
    """Python-Markdown's toc slug (what MkDocs' anchors are), for a heading's text."""
    text = re.sub(r"[`*]", "", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    return {_slug(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def test_readme_is_short():
    n = len((ROOT / "README.md").read_text().splitlines())
    assert n <= README_MAX_LINES, (
        f"README.md has {n} lines (at most {README_MAX_LINES}): move detail to docs/"
    )


def test_every_relative_link_resolves_to_a_file_and_anchor():
    broken = []
    for page in [ROOT / "README.md", *PAGES]:
        for link in _links(page):
            if re.match(r"[a-z]+:", link):  # http:, https:, mailto:
                continue
            target, _, anchor = link.partition("#")
            dest = (page.parent / target).resolve() if target else page
            if not dest.exists():
                broken.append(f"{page.relative_to(ROOT)}: {link} (no file {target})")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{page.relative_to(ROOT)}: {link} (no heading #{anchor})")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_readme_links_only_to_docs_pages_so_it_can_be_the_sites_home_page():
    # The site's home page is README.md minus "docs/" in its links (docs/hooks/readme_home.py).
    local = [x for x in _links(ROOT / "README.md") if not re.match(r"[a-z]+:", x)]
    assert local, "the README links to no docs page"
    assert all(x.startswith("docs/") and x.split("#")[0].endswith(".md") for x in local), local


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    conf = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = [next(iter(entry.values())) for entry in conf["nav"]]
    assert sorted(nav) == sorted(p.name for p in PAGES)
    assert nav[0] == "index.md"


def test_the_home_page_is_the_readme_with_links_into_the_site():
    spec = importlib.util.spec_from_file_location("readme_home", DOCS / "hooks" / "readme_home.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = types.SimpleNamespace(file=types.SimpleNamespace(src_uri="index.md"))
    home = hook.on_page_markdown("stub", page, config={}, files=None)
    readme = (ROOT / "README.md").read_text()
    assert home == readme.replace("](docs/", "](")
    assert "](tuning.md)" in home and "](docs/" not in home
    other = types.SimpleNamespace(file=types.SimpleNamespace(src_uri="tuning.md"))
    assert hook.on_page_markdown("page text", other, config={}, files=None) == "page text"
