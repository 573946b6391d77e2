"""Sphinx extension: the English and Chinese editions of the book, side by side.

The English book builds into ``_build/html/``, the Chinese one into ``_build/html/zh/`` with the
same page names (``tools/translation.py assemble`` writes its sources). This extension, loaded by
both builds, with ``aichip_edition`` set to ``"en"`` or ``"zh"``:

- puts at the top of every page a link to the same page in the other edition (and a
  ``<link rel="alternate" hreflang=...>`` in its head);
- gives every glossary link (``{term}``) a tooltip with the term in the other language: the
  Chinese term (from ``chapters/glossary.md``) in the English edition, the English term in the
  Chinese one;
- in the Chinese edition, hands Sphinx's Chinese search (jieba) a dictionary of the glossary's
  Chinese terms, so that a term and the words inside it (脉动 in 脉动阵列) are both indexed;
- in the single-page build that ``make pdf`` prints, leaves out the code cells the HTML book hides;
- in the Chinese edition, renders in Chinese the English phrases that chapters glue into their
  prose (``{glue:text}`` of a string such as "memory" or "met both targets"), from the phrase
  table ``zh/glue_phrases.yml``: exact phrases first, then patterns whose groups are themselves
  rendered (a number or a name stays as it is). Both editions run the same code; only the words
  the reader sees differ.
"""

from __future__ import annotations

import functools
import html
import pathlib
import re

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.transforms.post_transforms import SphinxPostTransform

ROOT = pathlib.Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "chapters" / "glossary.md"
LANG = {"en": ("en", "English"), "zh": ("zh-CN", "中文")}
MARK = "aichip_term"


@functools.cache
def chinese_terms() -> dict[str, str]:
    """{English glossary term, lower case: its Chinese term}, from the English glossary page."""
    block = re.search(r"```\{glossary\}\n(.*?)\n```", GLOSSARY.read_text(encoding="utf-8"), re.S)
    out, term = {}, None
    for line in block.group(1).splitlines():
        if not line.strip() or line.startswith(":"):
            continue
        if not line.startswith(" "):
            term = line.strip()
        elif term is not None:
            bold = re.match(r"\s*\*\*(.+?)\*\*", line)
            if bold:
                out[term.lower()] = bold.group(1)
            term = None
    return out


@functools.cache
def english_terms() -> dict[str, str]:
    """{English glossary term, lower case: the term as the glossary spells it}."""
    block = re.search(r"```\{glossary\}\n(.*?)\n```", GLOSSARY.read_text(encoding="utf-8"), re.S)
    return {line.strip().lower(): line.strip() for line in block.group(1).splitlines()
            if line.strip() and not line.startswith((" ", ":"))}


def counterpart_url(pagename: str, edition: str) -> str:
    """Relative URL, from page ``pagename`` of ``edition``, of the same page in the other one."""
    up = "../" * pagename.count("/")
    return f"{up}zh/{pagename}.html" if edition == "en" else f"../{up}{pagename}.html"


class MarkTerms(SphinxPostTransform):
    """Before references resolve: remember each {term} link's target on its text node."""
    default_priority = 5

    def run(self, **kwargs) -> None:
        for ref in self.document.findall(pending_xref):
            if ref.get("reftype") == "term" and ref.children and isinstance(ref[0], nodes.Element):
                ref[0][MARK] = ref["reftarget"].lower()


class TitleTerms(SphinxPostTransform):
    """After references resolve: each glossary link's tooltip is the other language's term."""
    default_priority = 20

    def run(self, **kwargs) -> None:
        zh = self.config.aichip_edition == "zh"
        for ref in self.document.findall(nodes.reference):
            target = next((c[MARK] for c in ref.children
                           if isinstance(c, nodes.Element) and MARK in c.attributes), None)
            if target is None:
                continue
            title = english_terms().get(target) if zh else chinese_terms().get(target)
            if title:
                ref["reftitle"] = title


PHRASES = ROOT / "zh" / "glue_phrases.yml"


@functools.cache
def phrase_table() -> tuple[dict[str, str], list[tuple[re.Pattern, str]]]:
    """({English phrase: Chinese}, [(compiled English pattern, Chinese template)])."""
    import yaml

    data = yaml.safe_load(PHRASES.read_text(encoding="utf-8")) if PHRASES.exists() else {}
    exact = {str(k): str(v) for k, v in (data.get("phrases") or {}).items()}
    patterns = [(re.compile(f"^(?:{p['en']})$", re.S), p["zh"]) for p in data.get("patterns") or []]
    return exact, patterns


def to_chinese(text: str, depth: int = 0) -> str:
    """``text`` (a glued English phrase) in Chinese: the table's phrase, or a pattern's template
    with each group rendered in turn; text the table does not know is returned as it is."""
    exact, patterns = phrase_table()
    stripped = text.strip()
    if stripped in exact:
        return exact[stripped]
    if depth < 4:
        for pattern, template in patterns:
            m = pattern.match(stripped)
            if m:
                groups = {k: to_chinese(v, depth + 1) for k, v in m.groupdict().items()
                          if v is not None}
                return template.format(**groups)
    return text


class ChineseGlue(SphinxPostTransform):
    """Chinese edition: glued English phrases shown in Chinese (zh/glue_phrases.yml)."""
    default_priority = 20

    def run(self, **kwargs) -> None:
        if self.config.aichip_edition != "zh":
            return
        for node in list(self.document.findall(nodes.inline)):
            if "pasted-text" in node["classes"]:
                text = node.astext()
                zh = to_chinese(text)
                if zh != text:
                    node.replace_self(nodes.inline(zh, zh, classes=node["classes"]))


# myst-nb's toggles for hidden code and outputs, which Sphinx's Chinese catalogue does not have
TOGGLES = {"Show code cell source": "显示代码", "Hide code cell source": "隐藏代码",
           "Show code cell outputs": "显示输出", "Hide code cell outputs": "隐藏输出",
           "Show code cell content": "显示代码单元格", "Hide code cell content": "隐藏代码单元格"}


class ChineseToggles(SphinxPostTransform):
    """Chinese edition: the show/hide toggles of hidden code cells in Chinese."""
    default_priority = 200  # after myst-nb's HideInputCells (199) makes them

    def run(self, **kwargs) -> None:
        if self.config.aichip_edition != "zh":
            return
        from myst_nb.sphinx_ import HideCodeCellNode

        for node in self.document.findall(HideCodeCellNode):
            for key in ("prompt_show", "prompt_hide"):
                node[key] = TOGGLES.get(node[key], node[key])


def page_context(app, pagename, templatename, context, doctree) -> None:
    edition = app.config.aichip_edition
    other = "zh" if edition == "en" else "en"
    hreflang, label = LANG[other]
    url = html.escape(counterpart_url(pagename, edition))
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{hreflang}" href="{url}" />')
    if "body" in context:
        context["body"] = (
            f'<p class="aichip-edition-switch" style="text-align:right;margin:0">'
            f'<a class="aichip-counterpart" hreflang="{hreflang}" lang="{hreflang}" href="{url}">'
            f"{label}</a></p>\n" + context["body"])


def search_dictionary(app) -> None:
    """Chinese edition: the glossary's Chinese terms as jieba's user dictionary."""
    if app.config.aichip_edition != "zh" or app.builder.format != "html":
        return
    path = pathlib.Path(app.outdir).parent / "jieba_glossary.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    # a frequency high enough that jieba keeps each term whole (cut_for_search adds its parts)
    path.write_text("".join(f"{t} 100000 n\n" for t in sorted(set(chinese_terms().values()))
                            if " " not in t), encoding="utf-8")
    app.config.html_search_options = dict(app.config.html_search_options or {}, dict=str(path))


def _skip(self, node):
    raise nodes.SkipNode


def setup(app):
    from myst_nb.sphinx_ import HideCodeCellNode

    # the single-page build that `make pdf` prints (tools/pdf.py) leaves out the code the HTML
    # book hides behind a "Show code" toggle (myst-nb registers that node for 'html' only)
    app.add_node(HideCodeCellNode, override=True, singlehtml=(_skip, None))
    app.add_config_value("aichip_edition", "en", "html", types=[str])
    app.add_post_transform(MarkTerms)
    app.add_post_transform(TitleTerms)
    app.add_post_transform(ChineseGlue)
    app.add_post_transform(ChineseToggles)
    app.connect("html-page-context", page_context)
    app.connect("builder-inited", search_dictionary)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
