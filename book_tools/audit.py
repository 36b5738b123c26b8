"""Which questions are answered, chapter by chapter: ``python -m book_tools.audit``.

A question counts as answered when its chapter notebook has its labelled section with a
面试速答 box (the same extraction that feeds the index, cheat sheet and flashcards; the full
anatomy is enforced by tests/book). Questions flagged ``pending`` in chapters/questions.yml
are listed as planned. Exits 1 if a written chapter has a question that is neither answered
nor pending.
"""

from __future__ import annotations

import sys

import yaml

from book_tools.extract import CHAPTERS, load


def report() -> tuple[list[str], bool]:
    """Lines of the audit table, and whether every written chapter is accounted for."""
    chapters, questions = load()
    register = yaml.safe_load((CHAPTERS / "questions.yml").read_text(encoding="utf-8"))
    pending = {q["id"]: q["pending"] for q in register["questions"] if q.get("pending")}
    lines, ok = [], True
    for ch in chapters:
        qs = [q for q in questions if q.chapter is ch]
        done = [q for q in qs if q.answered]
        planned = [q.id for q in qs if q.id in pending]
        todo = [q.id for q in qs if not q.answered and q.id not in pending]
        status = "written" if ch.exists else "not written"
        line = f"ch{ch.number:02d} {ch.title:<12} {len(done):>2}/{len(qs) - len(planned):<2} answered ({status})"
        if planned:
            line += f"; pending: {', '.join(planned)}"
        if ch.exists and todo:
            ok = False
            line += f"; MISSING: {', '.join(todo)}"
        lines.append(line)
    total = sum(q.answered for q in questions)
    lines.append(f"total {total}/{len(questions)} answered")
    return lines, ok


def main() -> int:
    lines, ok = report()
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
