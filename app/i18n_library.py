"""The libraries' own messages that reach a caller, translated like ours (issue 14: every
problem+json ``title``/``detail`` in the caller's language).

* marshmallow's validation messages (``Missing data for required field.``, ``Must be one of:
  {choices}.``, …), which flask-smorest puts in a 422's ``errors``;
* werkzeug's HTTP error names and descriptions (the ``title`` and ``detail`` of a 404, 405, 413 …).

They are read from the installed libraries, not copied: :func:`library_messages` feeds the core
catalogue (``app.i18n_extract.extract_all``), so an upgrade that adds or rewords a message shows
up as an untranslated entry in ``scripts/i18n.py check`` and in the catalogue test.

A marshmallow message arrives already formatted (``Longer than maximum length 18.``): it is
matched back to its template, whose translation is then filled with the same values.
"""
from __future__ import annotations

import ast
import inspect
import re
from functools import cache

from flask_babel import gettext

from app.i18n import translate

_PLACEHOLDER = re.compile(r"\{(\w+)(?:![rsa])?\}")


def _marshmallow_templates() -> set[str]:
    from marshmallow import Schema, fields, validate

    found: set[str] = set()
    for _, cls in inspect.getmembers(fields, inspect.isclass):
        if issubclass(cls, fields.Field):
            for klass in cls.__mro__:
                found.update(v for v in getattr(klass, "default_error_messages", {}).values() if isinstance(v, str))
    found.update(Schema._default_error_messages.values())
    for _, cls in inspect.getmembers(validate, inspect.isclass):
        if not issubclass(cls, validate.Validator):
            continue
        texts = {k: v for klass in reversed(cls.__mro__) for k, v in vars(klass).items()
                 if isinstance(v, str) and (k.startswith("message") or k in ("default_message", "default_error"))}
        ops = {k: v for k, v in texts.items() if k.startswith("message_") and "{" not in v
               and any("_op}" in t for t in texts.values())}  # Range's comparison words
        for key, text in texts.items():
            if key in ops:
                continue
            found.update(_expand_range(text, ops) if "_op}" in text else [text])
    return found


def _expand_range(text: str, ops: dict[str, str]) -> set[str]:
    """Range's "Must be {min_op} {{min}}." as the templates it formats to, one per comparison."""
    mins = [v for k, v in ops.items() if k.startswith("message_g")] or [""]
    maxs = [v for k, v in ops.items() if k.startswith("message_l")] or [""]
    return {text.format(min_op=lo, max_op=hi) for lo in mins for hi in maxs}


def _werkzeug_messages() -> set[str]:
    """The name (a problem's ``title``) and description (its ``detail``) of every HTTP error."""
    import werkzeug.exceptions as wz
    from werkzeug.http import HTTP_STATUS_CODES

    names = {HTTP_STATUS_CODES[code] for code in wz.default_exceptions}
    return names | {cls.description for _, cls in inspect.getmembers(wz, inspect.isclass)
                    if issubclass(cls, wz.HTTPException) and isinstance(cls.__dict__.get("description"), str)}


@cache
def library_messages() -> tuple[str, ...]:
    """Every library message that may reach a caller (the catalogue's source for them)."""
    return tuple(sorted(_marshmallow_templates() | _werkzeug_messages()))


@cache
def _patterns() -> tuple[tuple[re.Pattern, str], ...]:
    """(regex matching a formatted message, its template), most specific template first."""
    out = []
    for template in library_messages():
        if not _PLACEHOLDER.search(template):
            continue
        parts, pos = [], 0
        for m in _PLACEHOLDER.finditer(template):
            parts.append(re.escape(template[pos:m.start()]))
            parts.append(f"(?P<{m.group(1)}>.+?)")
            pos = m.end()
        parts.append(re.escape(template[pos:]))
        out.append((re.compile("".join(parts) + r"\Z", re.S), template))
    out.sort(key=lambda pair: -len(_PLACEHOLDER.sub("", pair[1])))  # the longest fixed text wins
    return tuple(out)


def translate_message(text: str) -> str:
    """One message in the request's language: ours or a library's, formatted or not."""
    translated = translate(text)
    if translated != text:
        return translated
    for pattern, template in _patterns():
        m = pattern.match(text)
        if m:
            if gettext(template) == template:  # English, or no translation: the message as it came
                return text
            return translate(template, **{k: _unrepr(v) if f"{{{k}!r}}" in template else v
                                          for k, v in m.groupdict().items()})
    return text


def _unrepr(text: str):
    """The value a ``{name!r}`` placeholder was filled with, so that the translation's own ``!r``
    quotes it once."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def translate_messages(messages):
    """A schema error tree (``{"json": {"doc_number": ["…"]}}``) with every message translated."""
    if isinstance(messages, dict):
        return {k: translate_messages(v) for k, v in messages.items()}
    if isinstance(messages, list):
        return [translate_messages(v) for v in messages]
    if isinstance(messages, str):
        return translate_message(messages)
    return messages
