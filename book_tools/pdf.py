"""The whole book as one PDF: ``make pdf`` -> ``_build/pdf/handbook.pdf``.

Route: the website that ``make book`` built is printed page by page (the home page, the 13
chapters, the question index, the bibliography) by the same headless Chromium the browser
tests drive, and the pieces are joined with pypdf. The PDF therefore shows exactly what the
site shows: MathJax's typesetting, the executed notebook outputs and figures, the Chinese
text in an installed CJK font (Chromium embeds the subset it uses). A LaTeX route would need
a TeX distribution with CJK support (xeCJK and its fonts, several hundred MB) that the
package registries do not provide, and Sphinx's single-page HTML build, printed in one go,
took four times as long as printing the chapters separately on two cores.

Joining the pieces is where the work is; Chromium gives each piece a bookmark per heading
and links that only work inside that piece, so :func:`assemble`

* keeps one bookmark per chapter with one child per question (and one per appendix page);
* points every link into the book (a question, a section, a citation) at its page in the
  joined file, and drops links to pages the PDF leaves out (the API reference, the cheat
  sheet, the mock interview), which would otherwise open ``file://`` paths of this machine;
* numbers the pages ``n / total`` across the whole book.

:func:`publish` copies the PDF into the website with the script that shows its download
link on the home page; the website build calls it too, so the link appears whichever ran last.

Usage: python -m book_tools.pdf   (after make book)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
from urllib.parse import unquote, urlparse

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
OUT = ROOT / "_build" / "pdf" / "handbook.pdf"
PARTS = OUT.parent / "parts"
PDF_NAME = "handbook.pdf"
LINK_SCRIPT = "handbook_pdf.js"
LINK_PREFIX = "https://pdf.invalid/"  # marks links into the book until assemble() resolves them
# Pages of the website left out of the PDF: the mock interview needs a browser, the API
# reference is a lookup table for the website, and the cheat sheet repeats every 面试速答
# box that the chapters already contain.
SKIPPED_DOCS = ("appendix/mock", "appendix/api", "appendix/cheatsheet")
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC")
A4_CSS_PX = (794, 1123)  # 210 x 297 mm at 96 px per inch: the page lays out at paper width
WORKERS = 2

_QUESTION_TITLE = re.compile(r"^\d{1,2}\.\d{1,2} ")

PRINT_CSS = """
html, body { font-family: "FONT", sans-serif !important; }
#jb-print-toc, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header, .bd-footer,
.bd-footer-article, .header-article, .prev-next-area, .headerlink, .copybtn, .toggle-button,
.search-button, .theme-switch-button, .api-links, button.btn { display: none !important; }
pre, .highlight pre { white-space: pre-wrap !important; word-break: break-all; font-size: 8pt; }
div.cell_output img { max-width: 100% !important; break-inside: avoid; }
table { font-size: 8.5pt; }
.pst-scrollable-table-container { overflow: visible !important; }
h1, h2, h3, h4 { break-after: avoid; break-inside: avoid; }
section > h2 { break-before: auto; }
mjx-container[display="true"] { overflow: visible !important; }
"""

# Runs in the page before printing: typeset, unfold, re-point links, list headings and targets.
PREPARE_JS = """
async ([doc, prefix]) => {
    document.querySelectorAll('details').forEach(d => { d.open = true; });
    if (window.MathJax && window.MathJax.startup) await window.MathJax.startup.promise;
    await document.fonts.ready;
    const imgs = [...document.images];
    await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
    const article = document.querySelector('article') || document.body;
    const here = new URL(location.href);
    const root = new URL('../'.repeat(doc.split('/').length - 1) || './', here);
    // links into the book: resolved by assemble() once every piece has its page numbers
    for (const a of article.querySelectorAll('a[href]')) {
        const url = new URL(a.getAttribute('href'), here);
        if (url.protocol !== 'file:' || !url.pathname.startsWith(root.pathname)) continue;
        const target = url.pathname.slice(root.pathname.length).replace(/\\.html$/, '');
        a.href = prefix + target + '#' + decodeURIComponent(url.hash.slice(1));
    }
    // Chromium reports where headings land and nothing else: give every bibliography entry
    // a one-pixel, transparent heading of its own, so a citation can land on its entry
    for (const c of article.querySelectorAll('div.citation[id]')) {
        const h = document.createElement('h6');
        h.className = 'pdf-anchor';
        h.textContent = '§' + c.id + '§';
        h.style.cssText = 'font-size:1px;line-height:1px;height:1px;margin:0;padding:0;color:transparent;overflow:hidden';
        c.prepend(h);
    }
    // headings in order (Chromium makes one bookmark per heading), and for every element with
    // an id the heading it sits under, so that a link to it can land on the right page
    const headings = [], under = {};
    let current = null;
    // the theme prints the page title from #jb-print-docs-body, outside the article
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_ELEMENT);
    for (let n = walker.currentNode; n; n = walker.nextNode()) {
        if (/^H[1-6]$/.test(n.tagName) && n.offsetParent !== null) {
            const sec = n.classList.contains('pdf-anchor') ? n.parentElement : n.closest('section');
            current = (sec && sec.id) || n.id || null;
            const text = [...n.childNodes].filter(c => !(c.classList && c.classList.contains('headerlink')))
                .map(c => c.textContent).join('').trim();
            headings.push({id: current, level: Number(n.tagName[1]), text});
        }
        if (n.id && current !== null) under[n.id] = current;
        if (n.tagName === 'SECTION' && n.id) under[n.id] = n.id;
    }
    return {
        headings, under,
        math: document.querySelectorAll('mjx-container').length,
        untypeset: [...article.querySelectorAll('.math')].filter(m => !m.querySelector('mjx-container')).length,
        images: imgs.filter(i => i.naturalWidth > 0).length,
        broken: imgs.filter(i => !(i.naturalWidth > 0)).map(i => i.src).slice(0, 5),
    };
}
"""


def book_docs(root: pathlib.Path = ROOT) -> list[str]:
    """The documents of ``_toc.yml`` in reading order, without the web-only ones."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    docs = [toc["root"]]
    for part in toc.get("parts", []):
        docs += [c["file"] for c in part.get("chapters", [])]
    return [d for d in docs if d not in SKIPPED_DOCS]


def cjk_font() -> str:
    """The first CJK font fontconfig knows; the PDF embeds a subset of it."""
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RuntimeError(f"fc-list failed ({exc}); install fontconfig and a CJK font (e.g. fonts-wqy-microhei)") from exc
    families = {f.strip() for line in listed.splitlines() for f in line.split(",") if f.strip()}
    for name in CJK_FONTS:
        if name in families:
            return name
    if families:
        return sorted(families)[0]
    raise RuntimeError(
        "No font with Chinese glyphs is installed, so the PDF's Chinese text would print as empty boxes. "
        "Install one (Debian: apt-get install fonts-wqy-microhei) and run make pdf again."
    )


def _print_group(docs: list[str], html: str, parts: str, font: str) -> dict[str, dict]:
    """Print each of ``docs`` (one worker process, one browser) to ``parts/NN.pdf``."""
    from playwright.sync_api import sync_playwright

    from book_tools.browser import CHROMIUM, CHROMIUM_ARGS

    out = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": A4_CSS_PX[0], "height": A4_CSS_PX[1]})
        # pages come from disk; anything else would need the network
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort())
        for doc in docs:
            page = context.new_page()
            page.set_default_timeout(300_000)
            page.emulate_media(media="print")
            page.goto((pathlib.Path(html) / f"{doc}.html").as_uri(), wait_until="load")
            page.add_style_tag(content=PRINT_CSS.replace("FONT", font))
            info = page.evaluate(PREPARE_JS, [doc, LINK_PREFIX])
            if info["broken"]:
                raise RuntimeError(f"{doc}: images that did not load: {info['broken']}")
            path = pathlib.Path(parts) / (doc.replace("/", "__") + ".pdf")
            page.pdf(path=str(path), format="A4", print_background=True, outline=True, tagged=True,
                     margin={"top": "15mm", "bottom": "17mm", "left": "14mm", "right": "14mm"})
            info["path"] = str(path)
            out[doc] = info
            page.close()
        browser.close()
    return out


def print_parts(docs: list[str], html: pathlib.Path = HTML, workers: int = WORKERS) -> dict[str, dict]:
    """Print the documents on ``workers`` processes, longest first, balanced by page size."""
    for doc in docs:
        if not (html / f"{doc}.html").is_file():
            raise FileNotFoundError(f"{html / doc}.html is missing: build the website first (make book)")
    font = cjk_font()
    shutil.rmtree(PARTS, ignore_errors=True)
    PARTS.mkdir(parents=True)
    groups: list[list[str]] = [[] for _ in range(workers)]
    load = [0] * workers
    for doc in sorted(docs, key=lambda d: -(html / f"{d}.html").stat().st_size):
        i = load.index(min(load))
        groups[i].append(doc)
        load[i] += (html / f"{doc}.html").stat().st_size
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futures = [pool.submit(_print_group, g, str(html), str(PARTS), font) for g in groups if g]
        results: dict[str, dict] = {}
        for f in futures:
            results.update(f.result())
    for info in results.values():
        info["font"] = font
    return {d: results[d] for d in docs}


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _heading_places(reader, headings: list[dict]) -> list[tuple[dict, int, float | None]]:
    """Each DOM heading with its page and height, from the piece's own bookmarks.

    Chromium writes one bookmark per printed heading, in document order, but garbles the
    titles of headings that wrap (pieces of the line repeated), so the two lists are matched
    in order on the start of each title.
    """
    flat = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                top = item.get("/Top")
                flat.append((_squash(str(item.title)), reader.get_destination_page_number(item),
                             float(top) if top is not None else None))

    walk(reader.outline)
    placed, j = [], 0
    for h in headings:
        want = _squash(h["text"])[:8]
        k = j
        while k < len(flat) and not flat[k][0].startswith(want):
            k += 1
        if k == len(flat):
            raise RuntimeError(f"no bookmark for the heading {h['text']!r}")
        placed.append((h, flat[k][1], flat[k][2]))
        j = k + 1
    return placed


def assemble(docs: list[str], parts: dict[str, dict], out: pathlib.Path = OUT) -> dict:
    """Join the printed pieces into ``out``: bookmarks, links across pieces, page numbers."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        FloatObject,
        NameObject,
        NullObject,
    )

    readers = {d: PdfReader(parts[d]["path"]) for d in docs}
    offsets, n = {}, 0
    for d in docs:
        offsets[d] = n
        n += len(readers[d].pages)
    # where every link target lands: (doc, id) -> (page in the joined file, height)
    places: dict[tuple[str, str], tuple[int, float | None]] = {}
    outline = []
    for d in docs:
        placed = _heading_places(readers[d], parts[d]["headings"])
        for h, page, top in placed:
            if h["id"] and (d, h["id"]) not in places:
                places[(d, h["id"])] = (offsets[d] + page, top)
        for elem, heading in parts[d]["under"].items():
            if (d, heading) in places:
                places.setdefault((d, elem), places[(d, heading)])
        places[(d, "")] = (offsets[d], None)
        outline.append([(h, offsets[d] + p, t) for h, p, t in placed])

    writer = PdfWriter()
    for d in docs:
        writer.append(readers[d], import_outline=False)

    def goto(page: int, top: float | None):
        return ArrayObject([writer.pages[page].indirect_reference, NameObject("/XYZ"), NullObject(),
                            FloatObject(top) if top is not None else NullObject(), NullObject()])

    fixed = dropped = 0
    for d in docs:
        for i in range(offsets[d], offsets[d] + len(readers[d].pages)):
            page = writer.pages[i]
            annots = page.get("/Annots")
            if annots is None:
                continue
            keep = ArrayObject()
            for ref in annots.get_object():
                a = ref.get_object()
                if a.get("/Subtype") != "/Link":
                    keep.append(ref)
                    continue
                target = None
                dest = a.get("/Dest")
                action = a.get("/A")
                if dest is not None and not isinstance(dest, list):  # a named destination of this piece
                    target = (d, unquote(str(dest)).lstrip("/"))
                elif action is not None and str(action.get("/URI", "")).startswith(LINK_PREFIX):
                    url = urlparse(str(action["/URI"]))
                    target = (url.path.lstrip("/"), unquote(url.fragment))
                elif action is not None and str(action.get("/URI", "")).startswith("file:"):
                    target = ("", "")  # a page of this machine's disk: never useful in a PDF
                if target is None:
                    keep.append(ref)
                    continue
                place = places.get(target) or places.get((target[0], ""))
                if place is None:
                    dropped += 1
                    continue
                a.pop("/A", None)
                a[NameObject("/Dest")] = goto(*place)
                fixed += 1
                keep.append(ref)
            page[NameObject("/Annots")] = keep

    # bookmarks: one per piece (its first heading), and under a chapter one per question
    chapters = questions = 0
    for d, placed in zip(docs, outline):
        if not placed:
            continue
        (h0, p0, t0), rest = placed[0], placed[1:]
        parent = writer.add_outline_item(title=h0["text"], page_number=p0, fit=_fit(t0))
        chapters += d.startswith("chapters/")
        for h, p, t in rest:
            if h["level"] == 2 and _QUESTION_TITLE.match(h["text"]):
                writer.add_outline_item(title=h["text"], page_number=p, parent=parent, fit=_fit(t))
                questions += 1

    # page numbers across the whole book (Helvetica: digits and a slash need no embedding)
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
    }))
    total = len(writer.pages)
    save, restore = DecodedStreamObject(), DecodedStreamObject()
    save.set_data(b"q\n")
    restore.set_data(b"\nQ\n")
    save, restore = writer._add_object(save), writer._add_object(restore)
    for i, page in enumerate(writer.pages):
        label = f"{i + 1} / {total}"
        width = 8 * (0.556 * sum(c.isdigit() for c in label) + 0.278 * 3)
        x = float(page.mediabox.width) / 2 - width / 2
        resources = page.get("/Resources")
        resources = resources.get_object() if resources is not None else DictionaryObject()
        fonts = resources.get("/Font")
        fonts = fonts.get_object() if fonts is not None else DictionaryObject()
        fonts[NameObject("/HbPageNo")] = font
        resources[NameObject("/Font")] = fonts
        page[NameObject("/Resources")] = resources
        stream = DecodedStreamObject()
        stream.set_data(f"q BT /HbPageNo 8 Tf 0.35 g {x:.2f} 22 Td ({label}) Tj ET Q".encode("ascii"))
        contents = page.get("/Contents")
        existing = contents.get_object() if contents is not None else ArrayObject()
        arr = ArrayObject(existing) if isinstance(existing, list) else ArrayObject([contents])
        # Chromium leaves a clip to the content box in force: isolate its drawing in q ... Q
        arr.insert(0, save)
        arr += [restore, writer._add_object(stream)]
        page[NameObject("/Contents")] = arr

    writer.page_mode = "/UseOutlines"
    writer.add_metadata({"/Title": "机器学习与大模型面试手册", "/Author": "面试手册编写组"})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.pdf")
    with tmp.open("wb") as f:
        writer.write(f)
    os.replace(tmp, out)
    return {"pages": total, "chapters": chapters, "questions": questions, "links": fixed, "links_dropped": dropped}


def _fit(top: float | None):
    from pypdf.generic import Fit

    return Fit.xyz(top=top) if top is not None else Fit.fit()


def link_script(pdf: pathlib.Path | None) -> str:
    """The site's download-link script: shows the link on the home page when the PDF exists."""
    if pdf is None:
        return "/* No PDF has been built (make pdf); the home page shows no download link. */\n"
    size = pdf.stat().st_size / 2**20
    return (
        "/* Written by book_tools/pdf.py: the home page links the PDF built by make pdf. */\n"
        "document.addEventListener('DOMContentLoaded', function () {\n"
        "  var slot = document.getElementById('handbook-pdf');\n"
        "  if (!slot) return;\n"
        "  var a = document.createElement('a');\n"
        f"  a.href = '{PDF_NAME}'; a.setAttribute('download', ''); a.className = 'handbook-pdf-link';\n"
        f"  a.textContent = '下载整本书的 PDF（{size:.0f} MB）';\n"
        "  slot.textContent = ''; slot.appendChild(a); slot.hidden = false;\n"
        "});\n"
    )


def publish(html_dir: pathlib.Path, pdf: pathlib.Path = OUT) -> bool:
    """Copy the PDF into the website (when it exists) and write the link script; True if copied."""
    static = html_dir / "_static"
    static.mkdir(parents=True, exist_ok=True)
    present = pdf.is_file()
    if present:
        shutil.copyfile(pdf, html_dir / PDF_NAME)
    else:
        (html_dir / PDF_NAME).unlink(missing_ok=True)
    (static / LINK_SCRIPT).write_text(link_script(pdf if present else None), encoding="utf-8")
    return present


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=WORKERS, help="browsers printing side by side")
    parser.add_argument("--reuse-parts", action="store_true", help="join the pieces printed last time again")
    args = parser.parse_args(argv)
    if not (HTML / "index.html").is_file():
        print("The website is not built yet: run `make book` first.", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    docs = book_docs()
    saved = PARTS / "parts.json"
    if args.reuse_parts and saved.is_file():
        parts = json.loads(saved.read_text(encoding="utf-8"))
    else:
        parts = print_parts(docs, workers=args.workers)
        saved.write_text(json.dumps(parts, ensure_ascii=False), encoding="utf-8")
    t1 = time.perf_counter()
    stats = assemble(docs, parts)
    t2 = time.perf_counter()
    publish(HTML)
    untypeset = {d: p["untypeset"] for d, p in parts.items() if p["untypeset"]}
    summary = {
        **stats,
        "formulas": sum(p["math"] for p in parts.values()),
        "images": sum(p["images"] for p in parts.values()),
        "font": next(iter(parts.values()))["font"],
        "MB": round(OUT.stat().st_size / 2**20, 1),
        "print_s": round(t1 - t0),
        "assemble_s": round(t2 - t1),
    }
    (OUT.parent / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{OUT.relative_to(ROOT)}: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    if untypeset:
        print(f"error: math left untypeset in {untypeset}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
