"""The scanner's routes: a public page (no sign-in), its words generated from the Python sources (never
written twice), a service worker whose cache version follows the files it caches."""
from __future__ import annotations

from ecard.token import APP_FIELD_LABELS, STATUS_LABELS
from ecard.verify import MESSAGES


def test_scanner_page_is_public_and_allows_only_our_scripts_and_wasm(client):
    resp = client.get("/scanner/")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self' 'wasm-unsafe-eval'" in csp and "unsafe-inline" not in csp
    assert b'<link rel="manifest" href="/scanner/manifest.webmanifest">' in resp.data
    assert "Set-Cookie" not in resp.headers
    assert client.get("/scanner/manifest.webmanifest").get_json()["start_url"] == "/scanner/"
    assert client.get("/scanner/verify.js").mimetype == "text/javascript"
    assert client.get("/scanner/../app/__init__.py").status_code == 404
    assert client.get("/scanner/generate.py").status_code == 404


def test_scanner_words_are_ecards_reason_messages_and_labels(client):
    body = client.get("/scanner/messages.json").get_json()
    for index, lang in enumerate(("zh", "en")):
        assert body[lang]["reasons"] == {reason: words[index] for reason, words in MESSAGES.items()}
        assert body[lang]["statuses"] == {s.name.lower(): w[index] for s, w in STATUS_LABELS.items()}
        assert body[lang]["fields"] == {f.name.lower(): w[index] for f, w in APP_FIELD_LABELS.items()}
    assert body["zh"]["ui"]["valid"] == "有效" and body["en"]["ui"]["valid"] == "Valid"
    assert set(body["zh"]["ui"]) == set(body["en"]["ui"])
    assert body["config"] == {"skew_seconds": 30, "keyset_max_age": 86_400, "refresh_seconds": 300}


def test_service_worker_caches_the_page_the_verifier_and_the_decoder(client):
    resp = client.get("/scanner/sw.js")
    text = resp.get_data(as_text=True)
    assert resp.mimetype == "text/javascript" and "__VERSION__" not in text
    for path in ("/scanner/", "/scanner/verify.js", "/scanner/messages.json",
                 "/static/vendor/zxing-wasm/zxing_reader.wasm", "/static/vendor/noble-ed25519/ed25519.js"):
        assert f'"{path}"' in text
        assert client.get(path).status_code == 200, path
