"""Copy the browser libraries from node_modules/ into static/vendor/ (git-ignored).

Browser code comes from npm, pinned by the committed package.json + package-lock.json, and is
served from our own origin: government intranets have no CDN. ``make vendor`` (a prerequisite
of ``make run`` and ``make test``) runs ``npm ci --ignore-scripts``, then this script.

``FILES`` is exactly what is copied: ``static/vendor/<dir>/<name>`` ← ``node_modules/<package>/<path>``.
static/vendor/ is rebuilt from scratch each time, so nothing else is ever served from it, and each
directory gets a VERSION file naming the package and version it came from.

Standard library only (runs before the virtualenv exists).
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "static" / "vendor"

# dir under static/vendor/ -> (npm package, {served name: path inside the package})
FILES: dict[str, tuple[str, dict[str, str]]] = {
    # /api/docs (flask-smorest, OPENAPI_SWAGGER_UI_URL = /static/vendor/swagger-ui/)
    "swagger-ui": ("swagger-ui-dist", {
        "swagger-ui-bundle.js": "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js": "swagger-ui-standalone-preset.js",
        "swagger-ui.css": "swagger-ui.css",
        "LICENSE": "LICENSE",
        "NOTICE": "NOTICE",
    }),
    # For the pages that follow (back office, e-card page, agency scanner).
    "htmx": ("htmx.org", {"htmx.min.js": "dist/htmx.min.js", "LICENSE": "LICENSE"}),
    "qrcode-generator": ("qrcode-generator", {"qrcode.js": "dist/qrcode.js"}),  # MIT, stated in its package.json
    # The reader loads its .wasm from a CDN unless told otherwise: pass
    # prepareZXingModule({overrides: {locateFile: () => "/static/vendor/zxing-wasm/zxing_reader.wasm"}}).
    "zxing-wasm": ("zxing-wasm", {"zxing-reader.js": "dist/iife/reader/index.js",
                                  "zxing_reader.wasm": "dist/reader/zxing_reader.wasm",
                                  "LICENSE": "LICENSE"}),
    "noble-ed25519": ("@noble/ed25519", {"ed25519.js": "index.js", "LICENSE": "LICENSE"}),  # an ES module
}


def locked_versions(root: Path = ROOT) -> dict[str, str]:
    """Package name -> version, as package-lock.json pins the direct dependencies."""
    lock = json.loads((root / "package-lock.json").read_text(encoding="utf-8"))
    return {name.removeprefix("node_modules/"): meta["version"] for name, meta in lock["packages"].items()
            if name.count("node_modules/") == 1 and not meta.get("dev")}


def vendor(node_modules: Path = NODE_MODULES, target: Path = VENDOR) -> list[Path]:
    """Rebuild ``target`` from ``node_modules``; refuse if an installed version is not the locked one."""
    locked = locked_versions(node_modules.parent)
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    copied = []
    for directory, (package, files) in FILES.items():
        installed = json.loads((node_modules / package / "package.json").read_text(encoding="utf-8"))["version"]
        if installed != locked.get(package):
            raise SystemExit(f"{package} {installed} is installed but package-lock.json pins "
                             f"{locked.get(package)}: run `npm ci --ignore-scripts`")
        out = staging / directory
        out.mkdir(parents=True)
        for name, path in files.items():
            shutil.copyfile(node_modules / package / path, out / name)
            copied.append(target / directory / name)
        (out / "VERSION").write_text(f"{package} {installed} (package-lock.json), copied by "
                                     f"scripts/vendor_static.py\n", encoding="utf-8")
    (staging / ".stamp").touch()
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return copied


if __name__ == "__main__":
    try:
        files = vendor()
    except FileNotFoundError as e:
        sys.exit(f"vendor_static: {e.filename} is missing: run `npm ci --ignore-scripts` first")
    print(f"static/vendor/: {len(files)} files from {len(FILES)} npm packages")
