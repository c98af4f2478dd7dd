"""The page works wherever it is served: at / on the local stack and at /{stage}/ where a deployed
stage serves it (chalicelib/webpage.py). So it asks for nothing by an absolute path: a fetch of
"/dev/vapid" or a service worker at "/static/sw.js" would leave the stage's path and miss."""

from __future__ import annotations

import re

from tests.stack import ROOT

# A string literal that starts with "/" and names one of the page's own routes or files.
ABSOLUTE = re.compile(r"""["'`]/(dev|static|cognito|config\.json|ws|\?)""")
# Or the site's root itself, as an address to go to.
ROOT_ADDRESS = re.compile(r"""(assign|replaceState\([^)]*|openWindow)\(?[^)]*["'`]/["'`]""")


def sources() -> dict[str, str]:
    files = [*sorted((ROOT / "web" / "js").glob("*.js")), ROOT / "web" / "sw.js", ROOT / "web" / "index.html"]
    return {str(path.relative_to(ROOT)): path.read_text() for path in files}


def test_the_page_asks_for_its_routes_and_files_by_relative_paths():
    absolute = {
        f"{name}:{number}": line.strip()
        for name, text in sources().items()
        for number, line in enumerate(text.splitlines(), 1)
        if not line.lstrip().startswith("//") and (ABSOLUTE.search(line) or ROOT_ADDRESS.search(line))
    }
    assert absolute == {}
