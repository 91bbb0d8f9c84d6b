"""Browser libraries come from npm, pinned by the committed lockfile, and are served from our origin.

Government intranets have no CDN, so /api/docs (and the pages that follow) load their JavaScript
from ``/static/vendor/``; that directory is built by ``make vendor`` (``npm ci --ignore-scripts`` +
``scripts/vendor_static.py``), never committed.
"""
from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from scripts import vendor_static

ROOT = Path(__file__).resolve().parent.parent
EXACT = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def test_vendored_files_are_not_committed_and_are_git_ignored():
    """static/vendor/ is built from the lockfile: nothing in it is tracked, everything in it is ignored."""
    assert git("ls-files", "static/vendor").stdout == ""
    assert git("check-ignore", "-q", "static/vendor/swagger-ui/swagger-ui-bundle.js").returncode == 0
    assert git("check-ignore", "-q", "node_modules/swagger-ui-dist/package.json").returncode == 0
    assert git("ls-files", "--error-unmatch", "package.json", "package-lock.json").returncode == 0


def test_every_browser_library_is_pinned_exactly_and_locked():
    """package.json pins exact versions, package-lock.json agrees, and every dependency is copied."""
    deps = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))["dependencies"]
    assert {"swagger-ui-dist", "htmx.org", "qrcode-generator", "zxing-wasm", "@noble/ed25519"} <= set(deps)
    assert all(EXACT.fullmatch(v) for v in deps.values()), deps
    locked = vendor_static.locked_versions()
    assert {name: locked[name] for name in deps} == deps
    assert {package for package, _files in vendor_static.FILES.values()} == set(deps)


def test_make_run_and_make_test_install_from_the_lockfile():
    """`make run` and `make test` install the browser libraries with `npm ci` (lockfile only, no
    install scripts) and copy them into static/vendor/."""
    for target in ("run", "test"):
        plan = subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, check=True)
        assert "npm ci --ignore-scripts" in plan.stdout, target
        assert "scripts/vendor_static.py" in plan.stdout, target


def _fake_node_modules(root: Path, version: str = "1.0.0", installed: str | None = None) -> None:
    packages = {"": {"dependencies": {}}}
    for package, files in vendor_static.FILES.values():
        packages[f"node_modules/{package}"] = {"version": version}
        base = root / "node_modules" / package
        base.mkdir(parents=True)
        (base / "package.json").write_text(json.dumps({"version": installed or version}))
        for path in files.values():
            (base / path).parent.mkdir(parents=True, exist_ok=True)
            (base / path).write_text(f"{package}/{path}")
    packages["node_modules/transitive-dep"] = {"version": "9.9.9"}
    (root / "package-lock.json").write_text(json.dumps({"lockfileVersion": 3, "packages": packages}))


def test_vendor_copies_exactly_the_listed_files(tmp_path):
    """static/vendor/ is rebuilt from scratch: the listed files, a VERSION per directory, nothing stale."""
    _fake_node_modules(tmp_path)
    target = tmp_path / "static" / "vendor"
    (target / "old-lib").mkdir(parents=True)
    (target / "old-lib" / "stale.js").write_text("stale")
    copied = vendor_static.vendor(tmp_path / "node_modules", target)
    found = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    listed = {f"{d}/{name}" for d, (_pkg, files) in vendor_static.FILES.items() for name in files}
    assert {p.relative_to(target).as_posix() for p in copied} == listed
    assert found == listed | {f"{d}/VERSION" for d in vendor_static.FILES} | {".stamp"}
    assert (target / "swagger-ui" / "swagger-ui-bundle.js").read_text() == "swagger-ui-dist/swagger-ui-bundle.js"
    assert (target / "swagger-ui" / "VERSION").read_text().startswith("swagger-ui-dist 1.0.0")


def test_vendor_refuses_an_installed_version_other_than_the_locked_one(tmp_path):
    _fake_node_modules(tmp_path, version="1.0.0", installed="1.0.1")
    with pytest.raises(SystemExit, match="npm ci"):
        vendor_static.vendor(tmp_path / "node_modules", tmp_path / "vendor")
    assert not (tmp_path / "vendor").exists()


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]


def test_docs_page_loads_only_assets_from_our_origin_and_they_are_served(client):
    """/api/docs works offline: every script and style sheet it loads is a path on our own origin,
    served 200 from static/vendor/, at the version package-lock.json pins."""
    resp = client.get("/api/docs")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    parser = _Refs()
    parser.feed(html)
    assert len(parser.refs) >= 3, parser.refs
    for ref in parser.refs:
        parts = urlsplit(ref)
        assert not parts.scheme and not parts.netloc and ref.startswith("/"), ref
        asset = client.get(ref)
        assert asset.status_code == 200, (ref, "run `make vendor`" if "/static/vendor/" in ref else "")
        if "/static/vendor/" in ref:  # the library itself, not an empty stand-in
            assert len(asset.get_data()) > 10_000, ref
    assert 'data-spec-url="/api/openapi.json"' in html  # static/swagger-init.js reads it (no inline script)
    version = client.get("/static/vendor/swagger-ui/VERSION").get_data(as_text=True)
    assert version.startswith(f"swagger-ui-dist {vendor_static.locked_versions()['swagger-ui-dist']} ")
