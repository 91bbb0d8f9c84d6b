"""HTTP helpers shared by the API tests."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

# Lookups by ID document take the document in a POST body, never in the URL (Art. 16: URLs land in logs).
DOCUMENT_LOOKUPS = ("/api/persons/lookup", "/api/persons/prefill", "/api/agency/holders")


def read(client, url: str, **kw):
    """GET ``url``; a document lookup written as ``path?doc_type=…&doc_number=…`` is POSTed as JSON."""
    parts = urlsplit(url)
    if parts.path in DOCUMENT_LOOKUPS:
        return client.post(parts.path, json=dict(parse_qsl(parts.query)), **kw)
    return client.get(url, **kw)
