"""The README is the newcomer's path: what it names exists, its commands work as typed, and it
points to nothing outside the repository."""
from __future__ import annotations

import re
from pathlib import Path

import click
from sqlalchemy import select

from app.demo import GUIDE
from app.models import StaffUser
from tests.test_demo_seed import seed

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SHELL_BLOCKS = re.findall(r"```sh\n(.*?)```", README, re.S)


def _commands() -> list[str]:
    """Every command line the README gives: in shell blocks and in `backticks`."""
    lines = [ln.strip() for block in SHELL_BLOCKS for ln in block.splitlines() if ln.strip()]
    return lines + re.findall(r"`([^`\n]+)`", README)


def test_readme_commands_run_from_the_venv_in_a_fresh_shell():
    """A fresh shell has no activated venv: every flask / python / pytest command names .venv/bin/."""
    bare = [c for c in _commands() if re.match(r"(flask|python3?|pytest|gunicorn)\b", c)]
    assert bare == []


def test_readme_points_to_nothing_outside_the_repository():
    """Links and paths in the README resolve inside the repository; the Measures are named by
    title, decree and date, not by a path to a copy beside the repository."""
    assert "../" not in README
    for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if not re.match(r"[a-z]+://", link):
            assert (ROOT / link).exists(), link
    for path in re.findall(r"\b((?:docs|ecard|app|bench|scripts|tests)/[\w./-]+\.(?:md|py|json))\b", README):
        assert (ROOT / path).exists(), path
    text = " ".join(README.split())
    assert "Measures of Guangzhou Municipality for the Management of Social Security Cards" in text
    assert "广州市社会保障卡管理办法" in text
    for decree in ("Decree No. 20", "Decree No. 132", "Decree No. 185"):
        assert decree in text
    assert "24 December 2021" in text and "1 February 2022" in text


def test_cli_help_cites_only_files_that_exist(app):
    """A command's help that points to a document (e.g. `flask calendar load` → docs/calendar.md)
    points to one that is in the repository."""
    cited = []

    def walk(cmd: click.Command):
        text = " ".join(filter(None, [cmd.help, cmd.short_help, *(getattr(p, "help", None) or "" for p in cmd.params)]))
        cited.extend(re.findall(r"\b((?:docs|ecard)/[\w./-]+\.md)\b", text))
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(app.cli)
    assert "docs/calendar.md" in cited
    for path in cited:
        assert (ROOT / path).is_file(), path


def test_readme_demo_resident_signs_in_with_the_three_commands_art19(app, db, client):
    """Art. 19: the resident the README names signs in with a one-time code: request it, read it
    with `flask demo sms`, log in. The README's identity is the one the seeder creates."""
    assert GUIDE.doc_number in README and GUIDE.name in README
    assert seed(app).exit_code == 0
    body = {"doc_type": str(GUIDE.doc_type), "doc_number": GUIDE.doc_number}
    assert f'"doc_type": "{GUIDE.doc_type}"' in README
    assert client.post("/api/auth/resident/otp", json=body).status_code == 202
    sms = app.test_cli_runner().invoke(args=["demo", "sms", "--limit", "1"])
    assert sms.exit_code == 0 and GUIDE.phone[-4:] in sms.output
    code = re.search(r"\b(\d{6})\b", sms.output.split(": ", 1)[1]).group(1)
    login = client.post("/api/auth/resident/login", json={**body, "code": code})
    assert login.status_code == 200, login.get_json()
    token = login.get_json()["access_token"]
    cards = client.get("/api/me/cards", headers={"Authorization": f"Bearer {token}"})
    assert cards.status_code == 200 and any(c["status"] == "active" for c in cards.get_json())


def test_readme_staff_accounts_exist_in_the_demo(app, db, session):
    """The demo staff accounts the README recommends are the ones `flask demo seed` creates."""
    assert seed(app).exit_code == 0
    usernames = set(session.scalars(select(StaffUser.username)))
    named = set(re.findall(r"^\| `([a-z0-9]+\.[a-z0-9.]+)` \|", README, re.M))
    assert len(named) >= 5 and named <= usernames, named - usernames
    assert ".venv/bin/flask demo passwords" in README


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_everything_ecard_imports_is_installed_by_make_run():
    """`python -m ecard.verify --image qr.png` works after `make run` alone: every package that
    ecard/ imports, lazily too (zxing-cpp and Pillow for images), is in requirements.txt."""
    import ast
    import sys
    from importlib.metadata import packages_distributions

    dists = packages_distributions()
    required = {_canonical(line.split("==")[0]) for line in (ROOT / "requirements.txt").read_text().splitlines()
                if line.strip() and not line.startswith(("#", "-"))}
    imported = set()
    for py in (ROOT / "ecard").glob("*.py"):
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "ecard"}
    assert {"zxingcpp", "PIL", "cryptography", "cbor2"} <= third_party
    missing = {m: dists.get(m) for m in third_party if not {_canonical(d) for d in dists.get(m, [])} & required}
    assert missing == {}


def test_calendar_doc_example_is_a_loadable_plausible_year_art10():
    """Art. 10, 25: the example in docs/calendar.md is the format the loader reads, and the dates
    are the 2026 notice's as the package holds them."""
    from app.services.workdays import package_year_schedule, parse_year_schedule, plausibility_warnings

    doc = (ROOT / "docs" / "calendar.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```json\n(.*?)```", doc, re.S)
    ys = parse_year_schedule(example)
    pkg = package_year_schedule(2026)
    assert (ys.year, ys.holidays, ys.adjusted_workdays) == (2026, pkg.holidays, pkg.adjusted_workdays)
    assert plausibility_warnings(ys) == []
