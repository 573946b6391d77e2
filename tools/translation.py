"""The Chinese edition: export a page for translation, import the translation, check, assemble.

The Chinese edition lives in ``zh/`` with the English book's layout:
``zh/chapters/03_roofline.ipynb`` translates ``chapters/03_roofline.ipynb``,
``zh/chapters/intro.md`` translates ``chapters/intro.md``. A translated notebook has the English
notebook's cells one for one: the code cells are the English ones verbatim, each markdown cell is
the translation of the English cell at the same place. So the Chinese page runs the same code,
glues the same numbers and shows the same figures and explorers as the English one.

Every translated page records its provenance (in a notebook's metadata, ``aichip_translation``;
in a Markdown page's front matter): the English source, the sha256 of the English text it
translates (per page and per markdown cell), the map from each English heading to its Chinese
heading, and ``behind``, true while the Chinese page is known to lag its source (the book then says
so at the top of the page). ``check`` reports every way the two editions disagree; the tests
(``tests/test_translation.py``) fail on any of them.

Commands (run with the book's Python, ``.venv/bin/python tools/translation.py ...``):

``export chapters/03_roofline.ipynb``
    the page's Markdown, one ``<!-- cell N -->`` block per markdown cell, for a translator;
``import zh-03.md --source chapters/03_roofline.ipynb``
    writes ``zh/chapters/03_roofline.ipynb`` from the translated blocks and the English code cells,
    with fresh provenance (a Markdown page is imported whole, with its front matter written);
``status``
    which English markdown cells changed since each translation (the cells to re-translate);
``sync``
    copies changed English code cells into the translations and re-stamps a page whose English
    markdown did not change (an English edit to code alone costs nothing more);
``stamp zh/chapters/03_roofline.ipynb``
    re-records the provenance of a page edited in place (in Jupyter) after its English source;
``mark-behind zh/chapters/03_roofline.ipynb``
    records that the page lags its source: the check passes, and the page says so;
``check``
    every disagreement between the editions, one per line; exit status 1 if any;
``assemble --out _build/zh_src``
    the Chinese book's source tree for Jupyter Book, its notebooks carrying the outputs of the
    English build's executions (one run of the code, so both editions glue the same numbers).
"""

from __future__ import annotations

import argparse
import collections
import copy
import hashlib
import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
ZH = ROOT / "zh"
KEY = "aichip_translation"
CELL = re.compile(r"^<!-- cell (\d+)(?: ([a-z]+\.[a-z]+))? -->\n", re.M)
# text a code cell's metadata shows the reader (mystnb figure caption, image alt text): translated
CAPTIONS = (("figure", "caption"), ("image", "alt"))
HEADING = re.compile(r"^(#{1,6}) +(.+?)\s*$", re.M)
FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.M | re.S)
# cross-reference targets and labels that must exist in both editions
LABEL_DEF = re.compile(r"^\(([A-Za-z0-9_:.-]+)\)=\s*$|^:(?:name|label): *(\S+)\s*$", re.M)
ROLE = re.compile(r"\{(ref|numref|doc|term|eq|cite|cite:p|cite:t|footcite|footcite:t|"
                  r"glue:text|glue:md|glue:figure|glue|prf:ref)\}`([^`]*)`")
NUMBER = re.compile(r"(?<![A-Za-z0-9_.])\d+(?:[.,]\d+)*")  # after CJK too
GLOSSARY_BLOCK = re.compile(r"^```\{glossary\}\n.*?^```", re.M | re.S)
LINK = re.compile(r"\]\((https?://[^)\s]+)\)")
FIG_LABEL = re.compile(r"^```\{(?:glue:figure|figure)\} +(\S+)", re.M)
EXERCISE = re.compile(r"^```\{(exercise|solution)\}[^\n]*\n(?::[a-z-]+:[^\n]*\n)*?:label: *(\S+)",
                      re.M)


# ---------------------------------------------------------------- reading pages


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cell_text(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def read_nb(path: pathlib.Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def write_nb(path: pathlib.Path, nb: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def captions(cell: dict) -> dict[str, str]:
    """{"figure.caption": text, "image.alt": text} of a code cell, where it has them."""
    meta = cell.get("metadata", {}).get("mystnb", {})
    return {f"{a}.{b}": meta[a][b] for a, b in CAPTIONS if b in meta.get(a, {})}


def without_captions(metadata: dict) -> dict:
    """A code cell's metadata less the text that a translation translates."""
    out = copy.deepcopy(metadata)
    for a, b in CAPTIONS:
        out.get("mystnb", {}).get(a, {}).pop(b, None)
    return out


def notebook_hash(nb: dict) -> str:
    """sha256 of a notebook's cell types, sources and captions (not outputs or other metadata)."""
    return sha256(json.dumps([[c["cell_type"], cell_text(c), captions(c)] for c in nb["cells"]],
                             ensure_ascii=False))


def texts(nb: dict) -> list[tuple[int, str | None, str]]:
    """(cell index, None or caption field, text) of everything a translation translates."""
    out = []
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] == "markdown":
            out.append((i, None, cell_text(c)))
        elif c["cell_type"] == "code":
            out += [(i, field, text) for field, text in captions(c).items()]
    return out


def split_front_matter(text: str) -> tuple[dict, str]:
    """(front matter, body) of a Markdown page; an empty dict where it has none."""
    if text.startswith("---\n"):
        end = text.index("\n---\n", 4)
        return yaml.safe_load(text[4:end]) or {}, text[end + 5:]
    return {}, text


def join_front_matter(meta: dict, body: str) -> str:
    dumped = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=100)
    return f"---\n{dumped}---\n{body}"


def headings(markdown: str) -> list[tuple[int, str]]:
    """(level, text) of each heading outside code fences, in order."""
    return [(len(m.group(1)), m.group(2)) for m in HEADING.finditer(FENCE.sub("", markdown))]


def numbers(markdown: str) -> collections.Counter:
    """Every number written in a page's text, with its count (a translation keeps them all).

    A glossary's term lines and the bold term that opens each definition are left out: the
    Chinese glossary names each term twice, and each edition's bold term is in the other one."""
    text = GLOSSARY_BLOCK.sub(lambda m: "\n".join(
        re.sub(r"^\s*\*\*[^*]+\*\* ·", "", line) for line in m.group(0).splitlines()
        if line.startswith(" ")), CELL.sub("", markdown))
    return collections.Counter(NUMBER.findall(text))


def targets(markdown: str) -> dict[str, list[str]]:
    """What a page defines and points at, by kind, sorted: the parts that must agree."""
    out = {"labels": sorted(a or b for a, b in LABEL_DEF.findall(markdown)),
           "figures": sorted(FIG_LABEL.findall(markdown)),
           "exercises": sorted(f"{k}:{lab}" for k, lab in EXERCISE.findall(markdown))}
    refs: list[str] = []
    for role, body in ROLE.findall(markdown):
        target = re.search(r"<([^<>]+)>\s*$", body)
        refs.append(f"{role}:{(target.group(1) if target else body).strip()}")
    out["references"] = sorted(refs)
    out["links"] = sorted(LINK.findall(markdown))
    return out


# ---------------------------------------------------------------- export and import


def counterpart(source: pathlib.Path) -> pathlib.Path:
    """The Chinese page that translates the English page ``source`` (a path under the root)."""
    return ZH / source.resolve().relative_to(ROOT)


def export(source: pathlib.Path) -> str:
    if source.suffix == ".md":
        return source.read_text(encoding="utf-8")
    return "".join(f"<!-- cell {i}{' ' + field if field else ''} -->\n{text.rstrip()}\n\n"
                   for i, field, text in texts(read_nb(source)))


def parse_blocks(text: str) -> dict[tuple[int, str | None], str]:
    """{(cell index, None or caption field): text} of a translation file."""
    parts = CELL.split(text)
    if parts[0].strip():
        raise ValueError("translation: text before the first '<!-- cell N -->' marker")
    return {(int(parts[i]), parts[i + 1]): parts[i + 2].strip("\n")
            for i in range(1, len(parts), 3)}


def heading_map(en: str, zh: str, where: str) -> list[list[str]]:
    """[[English heading, Chinese heading], ...], paired in order; levels must agree."""
    he, hz = headings(en), headings(zh)
    if [lvl for lvl, _ in he] != [lvl for lvl, _ in hz]:
        raise ValueError(f"{where}: heading levels differ: English {[lvl for lvl, _ in he]}, "
                         f"Chinese {[lvl for lvl, _ in hz]}")
    return [[e, z] for (_, e), (_, z) in zip(he, hz, strict=True)]


def provenance(en_nb: dict, zh_nb: dict, source: str) -> dict:
    md_en = [cell_text(c) for c in en_nb["cells"] if c["cell_type"] == "markdown"]
    md_zh = [cell_text(c) for c in zh_nb["cells"] if c["cell_type"] == "markdown"]
    return {"source": source, "source_sha256": notebook_hash(en_nb),
            "markdown_sha256": [sha256(t)[:16] for t in md_en],
            "caption_sha256": {f"{i} {field}": sha256(t)[:16]
                               for i, field, t in texts(en_nb) if field},
            "headings": heading_map("\n\n".join(md_en), "\n\n".join(md_zh), source),
            "behind": False}


def import_notebook(translation: str, source: pathlib.Path) -> pathlib.Path:
    en = read_nb(source)
    blocks = parse_blocks(translation)
    wanted = {(i, field) for i, field, _ in texts(en)}
    if set(blocks) != wanted:
        missing = sorted(f"{i} {f or ''}".strip() for i, f in wanted - set(blocks))
        extra = sorted(f"{i} {f or ''}".strip() for i, f in set(blocks) - wanted)
        raise ValueError(f"translation of {source.name}: cells or captions missing {missing}, "
                         f"not in the English notebook {extra}")
    stale = _untouched_changes(en, blocks, counterpart(source))
    if stale:
        raise ValueError(f"translation of {source.name}: the English of {stale} changed since the "
                         "last translation, but their Chinese did not: translate the change")
    zh = copy.deepcopy(en)
    for i, cell in enumerate(zh["cells"]):
        cell.pop("outputs", None) if cell["cell_type"] != "code" else cell.update(
            outputs=[], execution_count=None)
        if (i, None) in blocks:
            cell["source"] = blocks[i, None]
        for field in captions(cell):
            a, b = field.split(".")
            cell["metadata"]["mystnb"][a][b] = blocks[i, field]
    rel = str(source.resolve().relative_to(ROOT))
    zh["metadata"][KEY] = provenance(en, zh, rel)
    out = counterpart(source)
    write_nb(out, zh)
    return out


def _untouched_changes(en: dict, blocks: dict, page: pathlib.Path) -> list[str]:
    """Texts whose English changed since ``page`` was translated while the new translation
    ``blocks`` keeps their old Chinese: an import must not stamp those as translated."""
    if not page.exists():
        return []
    old = read_nb(page)
    prov = old["metadata"].get(KEY, {})
    md_hashes = iter(prov.get("markdown_sha256", []))
    recorded = {(i, None): next(md_hashes, None) for i, f, _ in texts(en) if f is None}
    recorded |= {(int(k.split()[0]), k.split()[1]): h
                 for k, h in prov.get("caption_sha256", {}).items()}
    before = {(i, f): t for i, f, t in texts(old)}
    return [f"{i} {f or 'markdown'}" for i, f, t in texts(en)
            if recorded.get((i, f)) != sha256(t)[:16] and blocks.get((i, f)) == before.get((i, f))]


def import_markdown(translation: str, source: pathlib.Path) -> pathlib.Path:
    meta, body = split_front_matter(translation)
    en = source.read_text(encoding="utf-8")
    rel = str(source.resolve().relative_to(ROOT))
    meta[KEY] = {"source": rel, "source_sha256": sha256(en),
                 "headings": heading_map(en, body, rel), "behind": False}
    out = counterpart(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(join_front_matter(meta, body), encoding="utf-8")
    return out


# ---------------------------------------------------------------- checking


def translated_pages() -> list[pathlib.Path]:
    return sorted(p for p in (ZH / "chapters").glob("*") if p.suffix in (".ipynb", ".md"))


def english_pages() -> list[pathlib.Path]:
    return sorted(p for p in (ROOT / "chapters").glob("*") if p.suffix in (".ipynb", ".md"))


def page_provenance(page: pathlib.Path) -> dict:
    if page.suffix == ".ipynb":
        return read_nb(page)["metadata"].get(KEY, {})
    return split_front_matter(page.read_text(encoding="utf-8"))[0].get(KEY, {})


def page_markdown(page: pathlib.Path) -> str:
    if page.suffix == ".ipynb":
        return "\n\n".join(text for _, _, text in texts(read_nb(page)))
    return split_front_matter(page.read_text(encoding="utf-8"))[1]


def check_page(zh_page: pathlib.Path) -> list[str]:
    """Every disagreement between a Chinese page and its English source."""
    name = str(zh_page.relative_to(ROOT))
    prov = page_provenance(zh_page)
    if not prov:
        return [f"{name}: no '{KEY}' provenance"]
    en_page = ROOT / prov["source"]
    if not en_page.exists():
        return [f"{name}: its source {prov['source']} does not exist"]
    problems = []
    en_text = en_page.read_text(encoding="utf-8")
    current = notebook_hash(read_nb(en_page)) if en_page.suffix == ".ipynb" else sha256(en_text)
    if current != prov["source_sha256"] and not prov.get("behind"):
        problems.append(f"{name}: {prov['source']} changed after its translation: translate the "
                        "change (tools/translation.py status) or mark the page behind")
    if en_page.suffix == ".ipynb":
        problems += _check_cells(name, read_nb(en_page), read_nb(zh_page))
    en_md, zh_md = page_markdown(en_page), page_markdown(zh_page)
    he, hz = headings(en_md), headings(zh_md)
    if [lvl for lvl, _ in he] != [lvl for lvl, _ in hz]:
        problems.append(f"{name}: heading levels differ from {prov['source']}")
    elif not prov.get("behind"):
        recorded = [tuple(pair) for pair in prov.get("headings", [])]
        actual = [(e, z) for (_, e), (_, z) in zip(he, hz, strict=True)]
        if recorded != actual:
            problems.append(f"{name}: the heading map in its provenance is not the pages' "
                            "headings (re-import or re-stamp it)")
    missing, added = numbers(en_md) - numbers(zh_md), numbers(zh_md) - numbers(en_md)
    if missing or added:
        problems.append(f"{name}: numbers only in English {sorted(missing.elements())}, only in "
                        f"Chinese {sorted(added.elements())} (every number is kept, as digits)")
    te, tz = targets(en_md), targets(zh_md)
    for kind in te:
        only_en = sorted(set(te[kind]) - set(tz[kind]))
        only_zh = sorted(set(tz[kind]) - set(te[kind]))
        if only_en or only_zh:
            problems.append(f"{name}: {kind} only in English {only_en}, only in Chinese {only_zh}")
    return problems


def _check_cells(name: str, en: dict, zh: dict) -> list[str]:
    if [c["cell_type"] for c in en["cells"]] != [c["cell_type"] for c in zh["cells"]]:
        return [f"{name}: its cells are not the English notebook's cells one for one"]
    out = []
    for i, (ce, cz) in enumerate(zip(en["cells"], zh["cells"], strict=True)):
        if ce["cell_type"] == "code" and (
                cell_text(ce) != cell_text(cz) or without_captions(ce.get("metadata", {}))
                != without_captions(cz.get("metadata", {}))):
            out.append(f"{name}: code cell {i} differs from the English one (tools/translation.py "
                       "sync copies it)")
        same = [f for f, t in captions(ce).items() if captions(cz).get(f) == t]
        if same:
            out.append(f"{name}: code cell {i}'s {same} not translated")
        if ce["cell_type"] == "code" and set(captions(ce)) != set(captions(cz)):
            out.append(f"{name}: code cell {i}'s captions {sorted(captions(cz))} are not the "
                       f"English ones {sorted(captions(ce))}")
        if cz.get("outputs"):
            out.append(f"{name}: cell {i} has outputs (translations are committed stripped)")
    return out


def check() -> list[str]:
    problems = []
    zh_rel = {str(p.relative_to(ZH)) for p in translated_pages()}
    for page in english_pages():
        if str(page.relative_to(ROOT)) not in zh_rel:
            problems.append(f"{page.relative_to(ROOT)}: no Chinese translation in zh/")
    for page in translated_pages():
        problems += check_page(page)
    problems += check_toc()
    return problems


def _toc_files(toc: dict) -> list[str]:
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [ch["file"] for ch in part["chapters"]]
    return files


def check_toc() -> list[str]:
    en = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    zh_path = ZH / "_toc.yml"
    if not zh_path.exists():
        return ["zh/_toc.yml is missing"]
    zh = yaml.safe_load(zh_path.read_text(encoding="utf-8"))
    if _toc_files(en) != _toc_files(zh):
        return ["zh/_toc.yml does not list the English book's pages in its order"]
    if [bool(p.get("numbered")) for p in en["parts"]] != [bool(p.get("numbered"))
                                                           for p in zh["parts"]]:
        return ["zh/_toc.yml numbers other parts than _toc.yml"]
    return []


# ---------------------------------------------------------------- keeping up with English


def status() -> list[str]:
    lines = []
    for page in translated_pages():
        prov = page_provenance(page)
        en_page = ROOT / prov["source"]
        if page.suffix != ".ipynb":
            if sha256(en_page.read_text(encoding="utf-8")) != prov["source_sha256"]:
                lines.append(f"{prov['source']}: changed; re-translate the changes (git diff)")
            continue
        now = [sha256(cell_text(c))[:16] for c in read_nb(en_page)["cells"]
               if c["cell_type"] == "markdown"]
        caps = {f"{i} {f}": sha256(t)[:16] for i, f, t in texts(read_nb(en_page)) if f}
        changed_caps = sorted(k for k in caps.keys() | prov.get("caption_sha256", {}).keys()
                              if caps.get(k) != prov.get("caption_sha256", {}).get(k))
        if changed_caps:
            lines.append(f"{prov['source']}: captions {changed_caps} changed")
        if now != prov["markdown_sha256"]:
            idx = [i for i, c in enumerate(read_nb(en_page)["cells"])
                   if c["cell_type"] == "markdown"]
            changed = [idx[k] for k, h in enumerate(now)
                       if k >= len(prov["markdown_sha256"]) or h != prov["markdown_sha256"][k]]
            lines.append(f"{prov['source']}: markdown cells {changed} changed")
    return lines


def sync() -> list[str]:
    """Copy English code cells into each translation; re-stamp pages whose markdown is unchanged."""
    done = []
    for page in translated_pages():
        if page.suffix != ".ipynb":
            continue
        zh = read_nb(page)
        prov = zh["metadata"][KEY]
        en = read_nb(ROOT / prov["source"])
        if [c["cell_type"] for c in en["cells"]] != [c["cell_type"] for c in zh["cells"]]:
            done.append(f"{page.relative_to(ROOT)}: cells added or removed in English; re-import")
            continue
        for ce, cz in zip(en["cells"], zh["cells"], strict=True):
            if ce["cell_type"] == "code":
                kept = captions(cz)
                cz["source"], cz["metadata"] = ce["source"], copy.deepcopy(ce["metadata"])
                for field in captions(cz):  # the translated captions stay (status lists changes)
                    a, b = field.split(".")
                    cz["metadata"]["mystnb"][a][b] = kept.get(field, captions(cz)[field])
        md_now = [sha256(cell_text(c))[:16] for c in en["cells"] if c["cell_type"] == "markdown"]
        caps = {f"{i} {f}": sha256(t)[:16] for i, f, t in texts(en) if f}
        if md_now == prov["markdown_sha256"] and caps == prov.get("caption_sha256", {}):
            behind = prov.get("behind", False)
            zh["metadata"][KEY] = provenance(en, zh, prov["source"]) | {"behind": behind}
        write_nb(page, zh)
        done.append(f"{page.relative_to(ROOT)}: code synced")
    return done


def stamp(page: pathlib.Path) -> None:
    """Record a Chinese page edited in place as up to date with its English source."""
    prov = page_provenance(page)
    source = ROOT / prov["source"]
    if page.suffix == ".ipynb":
        nb = read_nb(page)
        nb["metadata"][KEY] = provenance(read_nb(source), nb, prov["source"])
        write_nb(page, nb)
    else:
        meta, body = split_front_matter(page.read_text(encoding="utf-8"))
        meta.pop(KEY)
        import_markdown(join_front_matter(meta, body) if meta else body, source)


def mark_behind(page: pathlib.Path, behind: bool = True) -> None:
    if page.suffix == ".ipynb":
        nb = read_nb(page)
        nb["metadata"][KEY]["behind"] = behind
        write_nb(page, nb)
    else:
        meta, body = split_front_matter(page.read_text(encoding="utf-8"))
        meta[KEY]["behind"] = behind
        page.write_text(join_front_matter(meta, body), encoding="utf-8")


# ---------------------------------------------------------------- assembling the Chinese book

BEHIND_NOTE = ("```{{admonition}} 译文落后于英文原文\n:class: warning\n本页的英文原文在翻译之后"
               "有过修改，译文尚未跟上。最新内容请看[英文版]({url})。\n```\n")
ZH_CONFIG = {"title": "AI 芯片与 GPU 通信", "author": "AI Chips & GPU Communication 作者"}


def executed(cache: pathlib.Path, source: pathlib.Path) -> dict:
    """The English build's execution of the notebook ``source``, from its jupyter-cache."""
    import nbformat
    from jupyter_cache import get_cache

    try:
        _, nb = get_cache(str(cache)).merge_match_into_notebook(
            nbformat.read(str(source), as_version=4))
    except KeyError:
        raise SystemExit(f"{source} has no execution in {cache}: build the English book first "
                         "(make book does, then this)") from None
    return json.loads(nbformat.writes(nb))


def assemble(out: pathlib.Path, cache: pathlib.Path) -> None:
    """Write the Chinese book's source tree to ``out`` for Jupyter Book.

    Its configuration is the English one in Chinese (``language: zh_CN``), with execution off:
    each translated notebook carries the outputs (and widget state) of the English build's
    execution of the same code, taken from the English jupyter-cache ``cache``, so the Chinese
    pages show the same run's figures and explorers and glue the same numbers, and no chapter
    runs twice. (The cache cannot serve the translations directly: it matches a notebook by its
    code cells and their metadata, and a translation's figure captions differ.)"""
    (out / "chapters").mkdir(parents=True, exist_ok=True)
    for stale in (out / "chapters").iterdir():  # files are rewritten only where they changed,
        if stale.name not in {p.name for p in translated_pages()} | {"references.bib"}:
            stale.unlink()                       # so Sphinx re-reads only the changed pages
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config.update(copy.deepcopy(ZH_CONFIG))
    config["execute"]["execute_notebooks"] = "off"
    config["sphinx"]["config"]["language"] = "zh_CN"
    config["sphinx"]["config"]["aichip_edition"] = "zh"
    _write(out / "_config.yml", yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    _write(out / "_toc.yml", (ZH / "_toc.yml").read_text(encoding="utf-8"))
    _write(out / "chapters" / "references.bib",
           (ROOT / "chapters" / "references.bib").read_text(encoding="utf-8"))
    for name in ("_ext", "_vendor", "_static"):
        if (ROOT / name).exists() and not (out / name).is_symlink():
            (out / name).symlink_to(ROOT / name)
    for page in translated_pages():
        prov = page_provenance(page)
        depth = prov["source"].count("/") + 1
        en_url = "../" * depth + prov["source"].rsplit(".", 1)[0] + ".html"
        if page.suffix == ".md":
            meta, body = split_front_matter(page.read_text(encoding="utf-8"))
            if prov.get("behind"):
                body = _after_title(body, BEHIND_NOTE.format(url=en_url))
            _write(out / "chapters" / page.name, join_front_matter(meta, body))
            continue
        zh = read_nb(page)
        problems = _check_cells(page.name, read_nb(ROOT / prov["source"]), zh)
        if problems:
            raise SystemExit("\n".join(problems))
        ran = executed(cache, ROOT / prov["source"])
        for cz, cr in zip(zh["cells"], ran["cells"], strict=True):
            if cz["cell_type"] == "code":
                cz["outputs"], cz["execution_count"] = cr["outputs"], cr.get("execution_count")
        for key in ("widgets", "language_info"):
            if key in ran["metadata"]:
                zh["metadata"][key] = ran["metadata"][key]
        if prov.get("behind"):
            first = next(c for c in zh["cells"] if c["cell_type"] == "markdown")
            first["source"] = _after_title(cell_text(first), BEHIND_NOTE.format(url=en_url))
        _write(out / "chapters" / page.name, json.dumps(zh, indent=1, ensure_ascii=False) + "\n")


def _write(path: pathlib.Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _after_title(markdown: str, note: str) -> str:
    m = HEADING.search(markdown)
    if not m:
        return note + "\n" + markdown
    return markdown[:m.end()] + "\n\n" + note + markdown[m.end():]


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("export")
    p.add_argument("source", type=pathlib.Path)
    p = sub.add_parser("import")
    p.add_argument("translation", type=pathlib.Path)
    p.add_argument("--source", type=pathlib.Path, required=True)
    sub.add_parser("status")
    sub.add_parser("sync")
    p = sub.add_parser("check")
    p.add_argument("pages", nargs="*", type=pathlib.Path,
                   help="Chinese pages to check (default: the whole edition)")
    p = sub.add_parser("stamp")
    p.add_argument("page", type=pathlib.Path)
    p = sub.add_parser("mark-behind")
    p.add_argument("page", type=pathlib.Path)
    p.add_argument("--undo", action="store_true")
    p = sub.add_parser("assemble")
    p.add_argument("--out", type=pathlib.Path, default=ROOT / "_build" / "zh_src")
    p.add_argument("--cache", type=pathlib.Path, default=ROOT / "_build" / ".jupyter_cache")
    args = ap.parse_args(argv)
    if args.cmd == "export":
        sys.stdout.write(export(args.source))
    elif args.cmd == "import":
        text = args.translation.read_text(encoding="utf-8")
        fn = import_notebook if args.source.suffix == ".ipynb" else import_markdown
        print(fn(text, args.source).relative_to(ROOT))
    elif args.cmd == "check" and args.pages:
        lines = [line for page in args.pages for line in check_page(page.resolve())]
        print("\n".join(lines) if lines else "check: nothing to report")
        return 1 if lines else 0
    elif args.cmd in ("status", "sync", "check"):
        lines = {"status": status, "sync": sync, "check": check}[args.cmd]()
        print("\n".join(lines) if lines else f"{args.cmd}: nothing to report")
        return 1 if args.cmd == "check" and lines else 0
    elif args.cmd == "stamp":
        stamp(args.page.resolve())
    elif args.cmd == "mark-behind":
        mark_behind(args.page.resolve(), not args.undo)
    elif args.cmd == "assemble":
        assemble(args.out.resolve(), args.cache.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
