"""Every message of the Bureau, guide, complaint and certificate pages, and every refusal of their services, has
a zh_CN translation (extracted from the code as it is now, so a new string without one fails), with the same
placeholders as its source."""
from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from app.i18n_extract import extract_all

AREAS = ("bureau", "guides", "complaints", "legacy")
SERVICES = ("app/services/guides.py", "app/services/complaints.py", "app/services/legacy.py",
            "app/services/bureau.py")
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def _ours(tdir: Path, locations) -> bool:
    if tdir.parent.name in AREAS:
        return True
    return any(loc.startswith(SERVICES) for loc, _ in locations)


def test_every_message_of_these_pages_and_services_has_a_zh_cn_translation():
    gaps, bad, checked = [], [], 0
    for tdir, template in extract_all():
        po_path = tdir / "zh_CN" / "LC_MESSAGES" / "messages.po"
        po = read_po(po_path.open("rb"), locale="zh_CN") if po_path.exists() else None
        for msg in template:
            if not msg.id or not _ours(tdir, msg.locations):
                continue
            checked += 1
            have = po.get(msg.id) if po else None
            if have is None or not have.string or have.fuzzy:
                gaps.append(msg.id)
            elif sorted(PLACEHOLDER.findall(msg.id)) != sorted(PLACEHOLDER.findall(have.string)):
                bad.append((msg.id, have.string))
    assert checked > 250
    assert gaps == [], f"untranslated: {gaps}"
    assert bad == [], f"placeholders differ: {bad}"
