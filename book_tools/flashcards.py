"""Flashcards from the quick answers: an Anki deck (.apkg) and a CSV.

Usage: python -m book_tools.flashcards --out DIR [--base-url URL]
The book build also writes both into ``_build/html/flashcards/`` (see handbook_ext).
"""

from __future__ import annotations

import argparse
import csv
import html
import pathlib
import re

from .extract import Question, load

# Fixed ids: re-importing an updated deck into Anki updates the cards instead of duplicating them.
MODEL_ID = 1_607_392_319
DECK_ID = 2_059_400_110


def _to_anki_html(markdown: str) -> str:
    """Just enough Markdown for a card: math for Anki's MathJax, bold, code, line breaks."""
    text = html.escape(markdown, quote=False)
    text = re.sub(r"\$\$(.+?)\$\$", r"\\[\1\\]", text, flags=re.S)
    text = re.sub(r"(?<!\\)\$(.+?)(?<!\\)\$", r"\\(\1\\)", text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return text.replace("\n", "<br>")


def _link(q: Question, base_url: str) -> str:
    return f"{base_url}{q.chapter.docname}.html#{q.id}"


def rows(base_url: str = "") -> list[dict[str, str]]:
    _, questions = load()
    return [
        {
            "id": q.id,
            "question": q.heading or q.zh,
            "english": q.en,
            "quick_answer": q.quick or "",
            "link": _link(q, base_url),
        }
        for q in questions
        if q.answered
    ]


def write_csv(path: pathlib.Path, base_url: str = "") -> int:
    data = rows(base_url)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "question", "english", "quick_answer", "link"])
        writer.writeheader()
        writer.writerows(data)
    return len(data)


def write_apkg(path: pathlib.Path, base_url: str = "") -> int:
    import genanki

    model = genanki.Model(
        MODEL_ID,
        "Interview handbook card",
        fields=[{"name": "Id"}, {"name": "Question"}, {"name": "English"}, {"name": "Answer"}, {"name": "Link"}],
        templates=[
            {
                "name": "Quick answer",
                "qfmt": "<div class=q>{{Question}}</div><div class=en>{{English}}</div>",
                "afmt": "{{FrontSide}}<hr id=answer>{{Answer}}<p><a href='{{Link}}'>完整答案</a></p>",
            }
        ],
        css=".card{font-family:sans-serif;font-size:18px;text-align:left}.en{color:#777;font-size:14px}",
    )
    deck = genanki.Deck(DECK_ID, "机器学习与大模型面试手册")
    data = rows(base_url)
    for r in data:
        note = genanki.Note(
            model=model,
            fields=[r["id"], html.escape(r["question"]), html.escape(r["english"]),
                    _to_anki_html(r["quick_answer"]), r["link"]],
            guid=genanki.guid_for(r["id"]),
            tags=[r["id"].split("-")[0]],
        )
        deck.add_note(note)
    genanki.Package(deck).write_to_file(str(path))
    return len(data)


def write_all(out: pathlib.Path, base_url: str = "") -> int:
    out.mkdir(parents=True, exist_ok=True)
    n = write_csv(out / "handbook.csv", base_url)
    write_apkg(out / "handbook.apkg", base_url)
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("_build/flashcards"))
    ap.add_argument("--base-url", default="", help="site URL prefix for the links on the cards")
    args = ap.parse_args(argv)
    n = write_all(args.out, args.base_url)
    print(f"wrote {n} cards to {args.out}/handbook.apkg and handbook.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
