"""Message catalogues of the back office and the API (zh_CN; English is the source language).

    .venv/bin/python scripts/i18n.py update    # extract every message, add the new ones to each .po
    .venv/bin/python scripts/i18n.py check     # list messages without a zh_CN translation (exit 1 if any)
    .venv/bin/python scripts/i18n.py compile   # .po -> .mo (the app also does it when it starts)

Catalogues: app/translations/ (the core) and app/web/<area>/translations/ for an area that has its
own (create the directory, run update). See app/i18n_extract.py for what is extracted.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from babel.messages.pofile import read_po, write_po  # noqa: E402

from app.i18n import compile_catalogues  # noqa: E402
from app.i18n_extract import extract_all  # noqa: E402

LOCALE = "zh_CN"


def po_path(tdir: Path) -> Path:
    return tdir / LOCALE / "LC_MESSAGES" / "messages.po"


def load(tdir: Path):
    from babel.messages.catalog import Catalog

    path = po_path(tdir)
    if not path.exists():
        return Catalog(locale=LOCALE, project="ssc", charset="utf-8")
    with path.open("rb") as f:
        return read_po(f, locale=LOCALE)


def missing() -> list[tuple[Path, str]]:
    out = []
    for tdir, template in extract_all():
        po = load(tdir)
        for msg in template:
            if not msg.id:
                continue
            have = po.get(msg.id, msg.context)
            if have is None or not have.string or have.fuzzy:
                out.append((tdir, msg.id))
    return out


def update() -> None:
    for tdir, template in extract_all():
        po = load(tdir)
        po.update(template, no_fuzzy_matching=True, update_creation_date=False)
        path = po_path(tdir)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            write_po(f, po, width=100, omit_header=False, ignore_obsolete=True, include_previous=False,
                     sort_output=True)
        print(f"{path}: {len(po)} messages, {sum(1 for m in po if m.id and not m.string)} untranslated")


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else "check"
    if cmd == "update":
        update()
    elif cmd == "compile":
        print(f"{compile_catalogues()} catalogues compiled")
    elif cmd == "check":
        gaps = missing()
        for tdir, msgid in gaps:
            print(f"{po_path(tdir)}: untranslated: {msgid!r}")
        return 1 if gaps else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
