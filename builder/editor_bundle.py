"""The builder page's code editor (CodeMirror 6) bundled into `static/vendor/codemirror.js`.

CodeMirror comes from the npm registry once per machine (`npm ci` in builder/editor/, pinned by its
lock file) and esbuild bundles builder/editor/editor.js into one static file the page loads from Kiln
itself: no CDN, nothing fetched at page time. The bundle is built at set-up (`manage.py build_editor`,
run by `./kiln setup`), not committed, and rebuilt only when its inputs change: a stamp beside it holds
the hash of package.json, the lock file and the entry file.
"""

import hashlib
import shutil
import subprocess
from pathlib import Path

from django.conf import settings

EDITOR_DIR = Path(settings.BASE_DIR) / "builder" / "editor"
BUNDLE = Path(settings.BASE_DIR) / "static" / "vendor" / "codemirror.js"
STAMP = BUNDLE.with_name(".codemirror.sha256")
INPUTS = ("package.json", "package-lock.json", "editor.js")
NO_NPM = "npm is not installed; it is needed once to fetch CodeMirror (./kiln setup installs it)."


class EditorBuildError(RuntimeError):
    """npm or esbuild failed; str() says which, `log` holds the tail of its output."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


def inputs_digest() -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        digest.update((EDITOR_DIR / name).read_bytes())
    return digest.hexdigest()


def _run(cmd: list[str], *, what: str) -> None:
    result = subprocess.run(cmd, cwd=EDITOR_DIR, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise EditorBuildError(f"{what} failed (exit {result.returncode})", log=(result.stdout + result.stderr)[-4000:])


def ensure_bundle() -> bool:
    """Build the bundle unless the one on disk was built from the current inputs. True when built."""
    want = inputs_digest()
    if BUNDLE.is_file() and STAMP.is_file() and STAMP.read_text() == want:
        return False
    if not shutil.which("npm"):
        raise EditorBuildError(NO_NPM)
    # --ignore-scripts: esbuild's binary comes as its platform package; its install script only checks it.
    _run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], what="npm ci (CodeMirror)")
    BUNDLE.parent.mkdir(parents=True, exist_ok=True)
    _run(
        [str(EDITOR_DIR / "node_modules" / ".bin" / "esbuild"), "editor.js", "--bundle", "--minify", "--format=iife",
         "--target=es2020", "--legal-comments=none", f"--outfile={BUNDLE}"],
        what="esbuild (CodeMirror bundle)",
    )
    STAMP.write_text(want)
    return True
