"""Languages (Flask-Babel): zh_CN by default, en. One mechanism for pages and the API.

* The locale of a request: the signed-in member of staff's choice (web session, stored on the
  account), else the browser's ``Accept-Language``, else zh_CN. An API call without
  ``Accept-Language`` gets English, the source language (clients that ask get their language).
* Catalogues: ``app/translations/`` (the core: API errors, sign-in, layout) and one per web area
  (``app/web/<area>/translations/``) so that areas are translated independently; Flask-Babel merges
  them. Source messages are English. ``scripts/i18n.py update`` extracts and updates them all;
  the ``.mo`` files are compiled here when the app starts (git-ignored), so a clean clone works.
* Domain errors (``app.services.errors``) and problem details are translated when rendered, with
  :func:`translate` (the API) and the same call in the refusal macro (pages).
* Dates, numbers and money per locale with Babel (``2026年12月1日``, ``¥20.00``).
"""
from __future__ import annotations

import logging
import os
import re
from datetime import date, datetime
from pathlib import Path

from flask import Flask, g, request
from jinja2 import pass_context
from flask_babel import Babel, format_date, format_datetime, format_decimal, gettext

ROOT = Path(__file__).resolve().parent
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
API_DEFAULT_LOCALE = "en"
log = logging.getLogger("app.i18n")

babel = Babel()
# Babel parses "zh_CN" as zh_Hans_CN (CLDR) and looks for a catalogue of that name: the .po lives under
# zh_CN/, its .mo is also written under zh_Hans_CN/ (generated, git-ignored).
CATALOGUE_ALIASES = {"zh_CN": "zh_Hans_CN"}


def N_(message: str) -> str:
    """Mark a message for extraction without translating it now (it is translated when rendered)."""
    return message


def translation_dirs() -> list[Path]:
    """The core catalogue first, then each web area's own."""
    return [ROOT / "translations", *sorted(p for p in (ROOT / "web").glob("*/translations") if p.is_dir())]


def compile_catalogues(dirs: list[Path] | None = None) -> int:
    """Compile every ``.po`` whose ``.mo`` is missing or older (written atomically). Returns how many."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    done = 0
    for d in dirs or translation_dirs():
        for po in d.glob("*/LC_MESSAGES/*.po"):
            targets = [po.with_suffix(".mo")]
            alias = CATALOGUE_ALIASES.get(po.parent.parent.name)
            if alias:
                targets.append(d / alias / "LC_MESSAGES" / po.with_suffix(".mo").name)
            for mo in targets:
                if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
                    continue
                with po.open("rb") as f:
                    catalog = read_po(f, locale=po.parent.parent.name)
                mo.parent.mkdir(parents=True, exist_ok=True)
                tmp = mo.with_name(f".{mo.name}.{os.getpid()}")
                with tmp.open("wb") as f:
                    write_mo(f, catalog, use_fuzzy=False)
                tmp.replace(mo)
                done += 1
    return done


def select_locale() -> str:
    chosen = g.get("web_locale")
    if chosen in LOCALES:
        return chosen
    if request:
        if not request.accept_languages and request.path.startswith(("/api/", "/.well-known/")):
            # The API answers a client that asks for no language in its source language (its
            # problem types are the stable part); pages default to Chinese.
            return API_DEFAULT_LOCALE
        return request.accept_languages.best_match(LOCALES) or _primary_match() or DEFAULT_LOCALE
    return DEFAULT_LOCALE


def _primary_match() -> str | None:
    """``Accept-Language: zh`` or ``zh-Hans`` means zh_CN, ``en-GB`` means en."""
    for lang, _q in request.accept_languages:
        primary = lang.replace("_", "-").split("-")[0].lower()
        for loc in LOCALES:
            if loc.split("_")[0].lower() == primary:
                return loc
    return None


def translate(message: str | None, **params) -> str | None:
    """Translate a source message (English) at render time, filling ``{name}`` placeholders after
    translating. A message without a catalogue entry stays as it is."""
    if not message:
        return message
    text = gettext(message)
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):  # a translation that lost a placeholder
            log.warning("translation of %r does not fit its parameters", message)
            return message.format(**params)
    return text


# ---------------------------------------------------------------- formatting (Jinja filters)


def money(fen: int | None) -> str:
    """Fees are integer fen (Art. 27, app.services.fees): ¥20.00 in both languages (Babel's English
    would write CN¥; the back office serves Guangzhou, where ¥ is the yuan). Digits per locale."""
    if fen is None:
        return ""
    return "¥" + format_decimal(fen / 100, format="#,##0.00")


def _parsed(d):
    """A date or datetime, also from its ISO text (as the API's schemas dump them)."""
    if isinstance(d, str):
        return datetime.fromisoformat(d) if "T" in d else date.fromisoformat(d)
    return d


def day(d: date | datetime | str | None) -> str:
    d = _parsed(d)
    if d is None:
        return ""
    if isinstance(d, datetime):
        d = d.date()
    return format_date(d, format="long")


def moment(d: datetime | str | None) -> str:
    d = _parsed(d)
    if d is None:
        return ""
    return format_datetime(d, format="medium")


def number(n) -> str:
    return "" if n is None else format_decimal(n)


def current_locale() -> str:
    """The request's catalogue: zh_CN or en."""
    from flask_babel import get_locale

    loc = get_locale()
    return "_".join(filter(None, (loc.language, loc.territory))) if loc else DEFAULT_LOCALE


def html_lang() -> str:
    """The BCP 47 tag for <html lang>: zh-CN, en."""
    from flask_babel import get_locale

    loc = get_locale()
    return "-".join(filter(None, (loc.language, loc.territory))) if loc else "zh-CN"


_ARTICLE = re.compile(r"(\d+)((?:\s*¶\s*\d+)?)((?:\s*\(\d+\))?)")


def article(ref: str | None) -> str:
    """An article reference of the Measures as the reader's language writes it:
    ``Art. 10 ¶2, 25 ¶2`` (or ``Art. 10 ¶2, Art. 25 ¶2``) → ``第10条第2款、第25条第2款``;
    ``Art. 24(3)`` → ``第24条第(三)项``."""
    if not ref:
        return ""
    if not current_locale().startswith("zh"):
        return ref

    def one(m: re.Match) -> str:
        out = f"第{m.group(1)}条"
        if m.group(2):
            out += f"第{m.group(2).replace('¶', '').strip()}款"
        if m.group(3):
            n = int(m.group(3).strip()[1:-1])
            out += f"第（{_CN_NUM.get(n, str(n))}）项"
        return out

    body = ref.strip().removeprefix("Art.").removeprefix("Arts.").strip()
    parts = [p.strip().removeprefix("Art.").strip() for p in re.split(r",|;", body) if p.strip()]
    return "《办法》" + "、".join(_ARTICLE.sub(one, p, count=1) for p in parts)


_CN_NUM = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九", 10: "十"}


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    dirs = translation_dirs()
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(d) for d in dirs)
    try:
        compile_catalogues(dirs)
    except OSError as e:  # a read-only install ships its .mo files
        log.warning("could not compile the message catalogues: %s", e)
    babel.init_app(app, locale_selector=select_locale)

    @app.before_request
    def _fresh_locale():
        # Flask-Babel keeps the locale on the app context, which a test (or a CLI command) may share
        # across requests: every request chooses its own.
        from flask_babel import refresh

        g.pop("web_locale", None)
        refresh()
    # pass_context: Jinja would otherwise evaluate a filter on a constant ("Art. 27" | article) once, at
    # compile time, in whichever language the first page was rendered.
    app.jinja_env.filters.update({name: pass_context(lambda ctx, v, _f=f: _f(v)) for name, f in
                                  dict(money=money, day=day, moment=moment, number=number, article=article).items()})
    app.jinja_env.globals.update(translate=translate, N_=N_)
