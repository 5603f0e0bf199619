"""MkDocs hook: the site's home page is README.md, so the README and the site cannot drift apart.

README links to the pages as ``docs/<page>.md`` (right on a repository browser); on the home page,
which lives in ``docs/``, the same pages are ``<page>.md``.
"""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri != "index.md":
        return markdown
    return re.sub(r"\]\(docs/", "](", README.read_text(encoding="utf-8"))
