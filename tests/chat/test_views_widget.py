"""The widget script a storefront embeds (/widget/<token>/widget.js): public, cacheable JavaScript for an
enabled widget; 404 for an unknown token, a switched-off widget or an inactive merchant. And the script's own
promises that can be read from its source: it renders server text with textContent only and derives the
Storyfront origin from its own URL."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from chat.models import ChatSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def widget(merchant):
    return ChatSettings.objects.create(merchant=merchant, allowed_origins=["https://shop.example"])


def test_an_enabled_widget_serves_cacheable_javascript_without_login(client, widget):
    response = client.get(reverse("chat_widget_script", args=[widget.widget_token]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert "public" in response["Cache-Control"] and "max-age=300" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    with open(finders.find("chat/widget.js"), "rb") as handle:
        assert response.content == handle.read()


def test_a_repeat_request_with_the_etag_gets_304(client, widget):
    first = client.get(reverse("chat_widget_script", args=[widget.widget_token]))
    again = client.get(
        reverse("chat_widget_script", args=[widget.widget_token]), HTTP_IF_NONE_MATCH=first["ETag"]
    )
    assert again.status_code == 304 and again.content == b""


def test_unknown_token_disabled_widget_and_inactive_merchant_answer_404(client, widget, merchant):
    assert client.get(reverse("chat_widget_script", args=["wgt_nope"])).status_code == 404
    assert client.get(reverse("chat_widget_script", args=["x" * 300])).status_code == 404
    ChatSettings.objects.filter(pk=widget.pk).update(widget_enabled=False)
    assert client.get(reverse("chat_widget_script", args=[widget.widget_token])).status_code == 404
    ChatSettings.objects.filter(pk=widget.pk).update(widget_enabled=True)
    type(merchant).objects.filter(pk=merchant.pk).update(is_active=False)
    assert client.get(reverse("chat_widget_script", args=[widget.widget_token])).status_code == 404


def test_only_get(client, widget):
    assert client.post(reverse("chat_widget_script", args=[widget.widget_token])).status_code == 405


def test_the_script_never_parses_server_text_as_html():
    with open(finders.find("chat/widget.js"), encoding="utf-8") as handle:
        source = handle.read()
    # The one innerHTML in the script sets its own constant icon; everything else uses textContent.
    assignments = re.findall(r"\.(innerHTML|outerHTML|insertAdjacentHTML)\b[^;\n]*", source)
    assert assignments == ["innerHTML"]
    assert "bubble.innerHTML = ICON;" in source
    assert "eval(" not in source and "document.write" not in source
    assert "body.textContent = message.text" in source
    # It talks to the origin it was loaded from, with the session secret in a header.
    assert "document.currentScript" in source and "src.origin" in source
    assert '"X-Widget-Session"' in source and "sessionStorage" in source
    assert "attachShadow" in source
