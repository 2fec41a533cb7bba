"""A switch between the English and the Chinese edition on every page of the book.

A course notebook ``notebooks/NN_x`` links to its twin ``notebooks/zh/NN_x`` and back; the two
home pages (``index`` and ``zh``) link to each other; every other page (docs, API reference)
links to the other edition's home. Chinese pages are marked ``lang="zh-CN"`` so that the browser
picks a CJK font with the right glyph forms.
"""
from __future__ import annotations

import posixpath


def counterpart(pagename: str, pages: set[str]) -> tuple[str, str, bool]:
    """(target page, link text, is this page Chinese) for ``pagename``."""
    if pagename.startswith("notebooks/zh/"):
        twin = "notebooks/" + pagename[len("notebooks/zh/"):]
        return (twin if twin in pages else "index"), "English edition", True
    if pagename in ("zh", "README.zh"):
        return "index", "English edition", True
    if pagename.startswith("notebooks/") and pagename.count("/") == 1:
        twin = "notebooks/zh/" + pagename[len("notebooks/"):]
        if twin in pages:
            return twin, "中文版", False
    return "zh", "中文版", False


def add_switch(app, pagename, templatename, context, doctree):
    if "body" not in context:
        return
    pages = set(app.env.found_docs)
    target, text, is_zh = counterpart(pagename, pages)
    href = posixpath.relpath(target, posixpath.dirname(pagename) or ".") + app.builder.out_suffix
    switch = (f'<div class="edition-switch" data-edition="{"zh" if is_zh else "en"}">'
              f'<a class="edition-link" href="{href}" hreflang="{"en" if is_zh else "zh-CN"}">{text}</a></div>')
    body = context["body"]
    context["body"] = switch + (f'<div lang="zh-CN">{body}</div>' if is_zh else body)


def setup(app):
    app.connect("html-page-context", add_switch)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
