"""Which fonts Chromium really used for a piece of Chinese text (issue 13: no empty boxes).

A missing CJK font does not raise anything: the page shows "tofu" boxes. What does tell is the
browser's own record of the platform fonts it used for a node's text (DevTools protocol,
``CSS.getPlatformFontsForNode``). We compare those families with the families fontconfig says
contain the glyph 中 (U+4E2D): every font used for a purely Chinese label must be one of them.
"""
from __future__ import annotations

import functools
import subprocess

PROBE = "data-cjk-probe"

# The first element (in document order) under `scope` whose own text is only CJK characters
# (at least two, surrounding whitespace aside). A probe child holding exactly that text (no
# whitespace, which a Latin font may legitimately draw) is appended to it, so that it inherits the
# element's font settings; returns the text or null.
MARK_CJK_ELEMENT = """([scope, attr]) => {
  const roots = document.querySelectorAll(scope);
  for (const root of roots) {
    for (const el of root.querySelectorAll('*')) {
      const own = Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
      if (own.length >= 2 && /^[\\u4e00-\\u9fff\\u3000-\\u303f\\uff00-\\uffef]+$/.test(own)) {
        const probe = el instanceof SVGElement
          ? document.createElementNS('http://www.w3.org/2000/svg', 'tspan')
          : document.createElement('span');
        probe.textContent = own;
        probe.setAttribute(attr, '1');
        el.appendChild(probe);
        return own;
      }
    }
  }
  return null;
}"""


@functools.lru_cache(maxsize=1)
def cjk_font_families() -> frozenset[str]:
    """Families of the installed fonts that have a glyph for 中 (fontconfig's view)."""
    try:
        out = subprocess.run(["fc-list", ":charset=4e2d", "family"], capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(name.strip() for line in out.splitlines() for name in line.split(",") if name.strip())


def mark_cjk_element(page, scope: str) -> str | None:
    return page.evaluate(MARK_CJK_ELEMENT, [scope, PROBE])


def platform_fonts(page, selector: str) -> list[dict]:
    """[{familyName, glyphCount, ...}] Chromium used to render the text of ``selector``."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        if not node:
            raise AssertionError(f"no node matches {selector!r}")
        return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        cdp.detach()


def tofu_report(page, scope: str) -> tuple[str, list[dict], list[str]]:
    """(the Chinese text probed, fonts used, fonts used that have no CJK glyphs)."""
    text = mark_cjk_element(page, scope)
    if text is None:
        raise AssertionError(f"no purely Chinese text under {scope!r}")
    fonts = platform_fonts(page, f"[{PROBE}]")
    families = cjk_font_families()
    return text, fonts, [f["familyName"] for f in fonts if f["familyName"] not in families]


def glyph_problem(text: str, fonts: list[dict], not_cjk: list[str]) -> str | None:
    """Why ``text`` would show as boxes, or None when every glyph came from a CJK font. Two
    ways to fail, both seen: Chromium names a font with no CJK glyphs (it drew .notdef boxes
    from it), or it names no font at all (a Chromium whose fontconfig has no CJK font at all
    records nothing for glyphs it could not find)."""
    if not fonts:
        return f"Chromium reports no font for {text!r}"
    if not_cjk:
        return (f"{text!r} was drawn with {not_cjk}, which have no CJK glyphs (boxes); all fonts "
                f"used: {[(f['familyName'], f.get('glyphCount')) for f in fonts]}")
    return None
