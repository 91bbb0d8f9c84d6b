"""Collect the messages to translate (``scripts/i18n.py``, the catalogue test).

Besides ``_()``, ``gettext()``, ``N_()`` (Python and templates) and ``{% trans %}``:

* the detail of every domain error raised with a literal message — ``NotFound("No card {card_id}.",
  params=…)`` — and of werkzeug's HTTP errors raised with one (``Forbidden("…")``);
* the ``title`` of every error class (``status, type, title = 404, "not-found", "Not found"``) and
  the ``name``/``description`` of our own HTTP exceptions.

Which names are error classes is read from the code (every subclass of ``DomainError`` and of
werkzeug's ``HTTPException``), so a new error class needs nothing here.
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
from functools import cache
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir, extract_python
from babel.messages.catalog import Catalog

ROOT = Path(__file__).resolve().parent  # app/
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "lazy_gettext": None, "_l": None, "translate": None,
            # ValueErrors whose message reaches the caller through an InvalidInput (template + params)
            "DocumentError": (2,), "ScheduleError": None}


@cache
def error_classes() -> frozenset[str]:
    import app
    from werkzeug.exceptions import HTTPException

    from app.services.errors import DomainError

    for mod in pkgutil.walk_packages(app.__path__, "app."):
        if mod.name.startswith("app.web") and mod.name.count(".") > 2:
            continue
        try:
            importlib.import_module(mod.name)
        except Exception:  # noqa: BLE001 - a module that cannot load has nothing to say here
            continue
    names, stack = set(), [DomainError, HTTPException]
    while stack:
        cls = stack.pop()
        names.add(cls.__name__)
        stack.extend(cls.__subclasses__())
    return frozenset(names)


def extract(fileobj, keywords, comment_tags, options):
    """A Babel extraction method for our Python files."""
    source = fileobj.read()
    errors = error_classes()
    kw = [*keywords, *KEYWORDS, *errors]
    import io

    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = None
    # Babel glues the branches of ``"a" if c else "b"`` into one message "ab": dropped, the branches
    # are extracted one by one below.
    glued = set()
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.IfExp):
            strings = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            glued.add("".join(strings))
    for lineno, funcname, message, comments in extract_python(io.BytesIO(source), kw, comment_tags, options):
        first = message[0] if isinstance(message, (tuple, list)) else message
        if first not in glued:
            yield lineno, funcname, message, comments
    if tree is None:
        return
    for node in ast.walk(tree):
        # ``SomeError("one message" if c else "another", …)``: both branches
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in errors and node.args:
            arg = node.args[0]
            while isinstance(arg, ast.IfExp):
                for branch in (arg.body, arg.orelse):
                    if isinstance(branch, ast.Constant) and isinstance(branch.value, str):
                        yield branch.lineno, "N_", branch.value, []
                arg = arg.orelse
            continue
        if not (isinstance(node, ast.ClassDef) and node.name in errors):
            continue
        for stmt in node.body:
            if not isinstance(stmt, ast.Assign):
                continue
            for target in stmt.targets:
                pairs = []
                if isinstance(target, ast.Name):
                    pairs = [(target, stmt.value)]
                elif isinstance(target, ast.Tuple) and isinstance(stmt.value, ast.Tuple):
                    pairs = list(zip(target.elts, stmt.value.elts))
                for name, value in pairs:
                    if (isinstance(name, ast.Name) and name.id in ("title", "name", "description")
                            and isinstance(value, ast.Constant) and isinstance(value.value, str)):
                        yield value.lineno, "N_", value.value, []


METHODS = [("**.py", "app.i18n_extract:extract"), ("**/templates/**.html", "jinja2.ext:babel_extract")]


def catalogues() -> list[tuple[Path, list[Path]]]:
    """(translations directory, the source trees it covers). A web area with its own
    ``translations/`` covers its own directory; the core catalogue covers the rest of ``app/``."""
    areas = sorted(p.parent for p in (ROOT / "web").glob("*/translations") if p.is_dir())
    return [(ROOT / "translations", [ROOT]), *[(a / "translations", [a]) for a in areas]]


def extract_catalogue(sources: list[Path], exclude: list[Path]) -> Catalog:
    catalog = Catalog(project="ssc", domain="messages", charset="utf-8")
    for src in sources:
        def keep(path: str, src=src) -> bool:
            full = (src / path).resolve() if not Path(path).is_absolute() else Path(path)
            return not any(full == e or e in full.parents for e in exclude) and "translations" not in full.parts

        for filename, lineno, message, comments, context in extract_from_dir(
                src, METHODS, {"**/templates/**.html": {"encoding": "utf-8"}}, keywords=KEYWORDS | {
                    name: None for name in error_classes()}, comment_tags=("TRANSLATORS:",),
                directory_filter=keep):
            if isinstance(message, tuple):
                message = message[0]
            if message:
                catalog.add(message, None, [(str((src / filename).relative_to(ROOT.parent)), lineno)],
                            auto_comments=comments, context=context)
    return catalog


def extract_all() -> list[tuple[Path, Catalog]]:
    cats = catalogues()
    out = []
    for i, (tdir, sources) in enumerate(cats):
        exclude = [s for j, (_, ss) in enumerate(cats) if j != i for s in ss if s not in sources]
        # the core must not exclude itself: only areas with their own catalogue are left out of it
        exclude = [e for e in exclude if e != ROOT]
        catalog = extract_catalogue(sources, exclude)
        if tdir == ROOT / "translations":  # marshmallow's and werkzeug's messages (app.i18n_library)
            from app.i18n_library import library_messages

            for message in library_messages():
                if message not in catalog:
                    catalog.add(message, None, [("(library)", 0)])
        out.append((tdir, catalog))
    return out
