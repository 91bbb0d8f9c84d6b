"""Languages (issue 14): zh_CN by default, en; the catalogue is complete; the API's problem details and the
pages are translated by one mechanism; dates, numbers and money per locale."""
from __future__ import annotations

import re
from datetime import date

import pytest
from babel.messages.pofile import read_po

from app import i18n
from app.i18n_extract import extract_all

PLACEHOLDER = re.compile(r"\{[a-zA-Z_][a-zA-Z0-9_]*(?:![rsa])?(?::[^}]*)?\}|%\([a-z_]+\)s")


def _po(tdir):
    path = tdir / "zh_CN" / "LC_MESSAGES" / "messages.po"
    assert path.exists(), f"{path} is missing: run .venv/bin/python scripts/i18n.py update"
    with path.open("rb") as f:
        return read_po(f, locale="zh_CN")


def test_every_message_has_a_zh_cn_translation():
    """Extract every message of the code and templates (as scripts/i18n.py does) and fail on any whose
    zh_CN msgstr is missing, empty or fuzzy."""
    missing, total = [], 0
    for tdir, template in extract_all():
        po = _po(tdir)
        for msg in template:
            if not msg.id:
                continue
            total += 1
            have = po.get(msg.id, msg.context)
            if have is None or not have.string or have.fuzzy:
                missing.append(f"{tdir.relative_to(i18n.ROOT.parent)}: {msg.id!r}")
    assert missing == [], "untranslated (run scripts/i18n.py update, then translate):\n" + "\n".join(missing)
    assert total > 250  # the extraction saw the code: error messages, labels, templates


def test_extraction_finds_error_details_titles_and_template_strings():
    msgids = {m.id for _, cat in extract_all() for m in cat if m.id}
    assert "No card {card_id}." in msgids  # a domain error's detail with a placeholder
    assert "Operation not allowed in this state" in msgids  # an error class's title
    assert "'{op}' is not allowed for a card that is {state}." in msgids  # a branch of a conditional message
    assert "Skip to content" in msgids  # a template
    assert "Wrong user name or password." in msgids  # a macro argument wrapped in N_()


def test_translations_keep_their_placeholders():
    bad = []
    for tdir, _ in extract_all():
        for msg in _po(tdir):
            if msg.id and msg.string:
                if sorted(PLACEHOLDER.findall(msg.id)) != sorted(PLACEHOLDER.findall(msg.string)):
                    bad.append((msg.id, msg.string))
    assert bad == []


def test_api_problem_is_translated_per_accept_language(client, world):
    world.session.commit()
    zh = client.get("/api/cards/999999", headers={"Authorization": "Bearer x", "Accept-Language": "zh-CN"})
    assert (zh.get_json()["title"], zh.get_json()["detail"]) == ("无效令牌", "令牌无效，请重新登录。")
    resp = client.post("/api/auth/login", json={"username": "nobody", "password": "x"},
                       headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    body = resp.get_json()
    assert (body["title"], body["detail"]) == ("未登录", "用户名或密码错误。")
    en = client.post("/api/auth/login", json={"username": "nobody", "password": "x"},
                     headers={"Accept-Language": "en"}).get_json()
    assert (en["title"], en["detail"]) == ("Unauthorized", "Wrong username or password.")
    # A client that names no language gets the source language (English), with the same problem type.
    plain = client.post("/api/auth/login", json={"username": "nobody", "password": "x"}).get_json()
    assert plain["detail"] == "Wrong username or password." and plain["type"] == body["type"]


def test_domain_error_detail_is_translated_with_its_values(client, world):
    world.session.commit()
    token = client.post("/api/auth/login", json={"username": "clerk", "password": "clerk-pw"}).get_json()
    headers = {"Authorization": f"Bearer {token['access_token']}", "Accept-Language": "zh-CN"}
    body = client.get("/api/cards/987654", headers=headers).get_json()
    assert body["title"] == "未找到" and body["detail"] == "没有卡 987654。"
    body = client.get("/api/cards/987654", headers={**headers, "Accept-Language": "en"}).get_json()
    assert body["detail"] == "No card 987654."


@pytest.mark.parametrize("lang, money, day, number", [
    ("zh_CN", "¥20.00", "2026年12月1日", "12,345.6"),
    ("en", "¥20.00", "December 1, 2026", "12,345.6"),
])
def test_dates_numbers_and_money_follow_the_locale(app, lang, money, day, number):
    with app.test_request_context("/", headers={"Accept-Language": lang.replace("_", "-")}):
        assert i18n.money(2000) == money
        assert i18n.day(date(2026, 12, 1)) == day
        assert i18n.number(12345.6) == number


def test_article_references_in_each_language(app):
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert i18n.article("Art. 10 ¶2, 25 ¶2") == "《办法》第10条第2款、第25条第2款"
        assert i18n.article("Art. 24(3)") == "《办法》第24条第（三）项"
        assert i18n.article("Art. 21") == "《办法》第21条"
        assert i18n.article("Art. 5 ¶1, Art. 29") == "《办法》第5条第1款、第29条"  # each part may repeat "Art."
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert i18n.article("Art. 24(3)") == "Art. 24(3)"


def test_every_enum_member_has_a_label():
    from app.web.labels import LABELS

    missing = [f"{enum.__name__}.{m.value}" for enum, table in LABELS.items() for m in enum if m.value not in table]
    assert missing == []


def test_schema_errors_and_http_details_are_translated_per_accept_language(client, world):
    """The libraries' own messages (marshmallow's field errors, werkzeug's HTTP descriptions) reach the caller
    in the caller's language too: every string of a problem+json is translated (issue 14)."""
    world.session.commit()
    zh = {"Accept-Language": "zh-CN"}
    body = client.post("/api/auth/login", json={"username": "x", "password": "y", "extra": 1}, headers=zh).get_json()
    assert body["errors"]["json"]["extra"] == ["未知字段。"]
    body = client.post("/api/auth/login", json={"password": "y"}, headers=zh).get_json()
    assert body["errors"]["json"]["username"] == ["缺少必填字段。"]
    body = client.post("/api/auth/login", json={"username": 5, "password": "y"}, headers=zh).get_json()
    assert body["errors"]["json"]["username"] == ["不是有效的字符串。"]
    # a formatted message (values filled in) is matched back to its template and filled in Chinese
    long = {"doc_type": "resident_id", "doc_number": "1" * 41}
    en = client.post("/api/auth/resident/otp", json=long).get_json()
    assert en["errors"]["json"]["doc_number"] == ["Length must be between 1 and 40."]
    body = client.post("/api/auth/resident/otp", json={**long, "nationality": "CHINA"}, headers=zh).get_json()
    assert body["errors"]["json"] == {"doc_number": ["长度须在 1 到 40 之间。"], "nationality": ["长度须为 3。"]}
    missing = client.get("/api/no-such-thing", headers=zh).get_json()
    assert (missing["title"], missing["detail"]) == ("未找到", "服务器上找不到请求的网址。如为手动输入，请检查拼写后重试。")
    assert client.get("/api/no-such-thing").get_json()["detail"].startswith("The requested URL was not found")


def test_library_messages_come_from_the_installed_libraries():
    """Read from marshmallow and werkzeug, not copied: the catalogue follows an upgrade."""
    from marshmallow import fields
    from werkzeug.exceptions import MethodNotAllowed

    from app.i18n_library import library_messages, translate_message

    messages = library_messages()
    assert fields.Field.default_error_messages["required"] in messages
    assert MethodNotAllowed.description in messages and "Method Not Allowed" in messages
    assert "Must be greater than or equal to {min} and less than {max}." in messages  # Range, expanded
    assert "greater than" not in messages  # Range's comparison words are parts, not messages
    assert translate_message("Longer than maximum length 18.") == "Longer than maximum length 18."  # no request
