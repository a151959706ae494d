"""The Content-Security-Policy without a browser: every page sends it, no template or static file relies on what it
refuses (inline code, style attributes, event handlers, javascript: URLs), and the API docs reference nothing but
our own origin. tests/browser/test_csp.py proves the pages run under it."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What the policy refuses in markup. A <script> or <style> element may stay only with the per-response nonce
# (the API docs' start-up code) or as inert JSON data.
FORBIDDEN = {
    "inline <script>": re.compile(
        r"<script\b(?![^>]*\b(?:src|nonce)=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>"
    ),
    "<style> element": re.compile(r"<style\b(?![^>]*\bnonce=)[^>]*>"),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=\s*[\"']", re.IGNORECASE),
    "hx-on attribute (evaluated code)": re.compile(r"\shx-on[:-]", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}
_COMMENTS = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}|<!--.*?-->", re.DOTALL)


def _parse(header: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_every_template_is_free_of_what_the_policy_refuses():
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = _COMMENTS.sub("", path.read_text())
        for what, pattern in FORBIDDEN.items():
            found += [f"{path.relative_to(ROOT)}: {what}: {m.group(0)!r}" for m in pattern.finditer(text)]
    assert found == []


def test_scripts_write_no_style_attributes_or_markup_with_them():
    found = []
    for path in sorted((ROOT / "static").rglob("*.js")):
        text = path.read_text()
        for pattern in (
            r"setAttribute\(\s*[\"']style[\"']",
            r"style=\\?[\"']",
            r"\beval\(",
            r"new Function\(",
        ):
            found += [f"{path.relative_to(ROOT)}: {m.group(0)!r}" for m in re.finditer(pattern, text)]
    assert found == []


@pytest.mark.parametrize("url", ["/accounts/login/", "/api/schema/", "/widget/unknown-token/widget.js"])
def test_responses_carry_the_policy(client, db, url):
    response = client.get(url)
    policy = _parse(response["Content-Security-Policy"])
    assert policy == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_api_docs_load_only_from_our_origin_with_nonced_inline_code(client, db, url):
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    policy = _parse(response["Content-Security-Policy"])
    nonce = re.search(r"'nonce-([^']+)'", " ".join(policy["script-src"])).group(1)
    assert policy["script-src"] == ["'self'", f"'nonce-{nonce}'"]
    # Every script is a file from our static files or carries this response's nonce.
    scripts = re.findall(r"<script\b([^>]*)>", html)
    assert scripts and all('src="/static/' in attrs or f'nonce="{nonce}"' in attrs for attrs in scripts)
    # No CDN: no resource from another origin, no Google Fonts, no online validator.
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html)
    assert "fonts.googleapis" not in html and "cdn.jsdelivr" not in html
    if url == "/api/redoc/":
        # config/api_docs.py: ReDoc's bundle inserts <style> elements before it can be handed the nonce, and runs
        # its search in a blob: worker. Scripts stay locked down.
        assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
        assert policy["worker-src"] == ["'self'", "blob:"]
    else:
        assert policy["style-src"] == ["'self'", f"'nonce-{nonce}'"]
        assert '"validatorUrl": null' in html
