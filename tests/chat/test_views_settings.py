"""The chat settings page: the embed snippet, saving (origins one per line, normalised), the bad inputs with
their messages and nothing saved, read-only for everyone but owners, and a new widget token."""

import re

import pytest
from django.urls import reverse

from accounts.models import AuditLog, Role
from chat.models import ChatSettings

pytestmark = pytest.mark.django_db


def form(**overrides):
    data = {
        "widget_enabled": "on",
        "bot_name": "Trail Guide",
        "greeting": "Hi! How can I help?",
        "allowed_origins": "https://shop.example",
        "handoff_topics": "",
        "min_relevance": "0.35",
        "max_failed_answers": "2",
        "history_turns": "6",
        "rate_limit_per_minute": "12",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def settings_of(merchant) -> ChatSettings:
    return ChatSettings.objects.get(merchant=merchant)


def test_the_page_shows_the_embed_snippet_with_a_copy_button(login, merchant):
    html = login().get(reverse("chat:settings")).content.decode()
    token = settings_of(merchant).widget_token
    assert token.startswith("wgt_")
    assert (
        f'value="&lt;script src=&quot;http://testserver/widget/{token}/widget.js&quot; async&gt;&lt;/script&gt;"'
        in html
    )
    assert 'data-copy="#embed-snippet"' in html
    assert "No origin is allowed yet" in html
    assert "refund dispute" in html  # the topics that always go to a person are listed


def test_saving_normalises_origins_and_topics(login, merchant):
    response = login().post(
        reverse("chat:settings"),
        form(
            allowed_origins="https://Shop.Example/\n\nhttp://localhost:8000\nhttps://shop.example:443\n",
            handoff_topics="Warranty claim\n  warranty claim \nlost parcel\n",
            min_relevance="0.5",
            rate_limit_per_minute="30",
            widget_enabled=None,
        ),
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("chat:settings")
    assert "Chat settings saved." in response.content.decode()
    saved = settings_of(merchant)
    assert saved.allowed_origins == ["https://shop.example", "http://localhost:8000"]
    assert saved.handoff_topics == ["Warranty claim", "lost parcel"]
    assert (saved.bot_name, saved.min_relevance, saved.rate_limit_per_minute) == ("Trail Guide", 0.5, 30)
    assert saved.widget_enabled is False
    html = response.content.decode()
    assert "https://shop.example\nhttp://localhost:8000</textarea>" in html
    assert AuditLog.objects.filter(merchant=merchant, action="chat_settings.update").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("allowed_origins", "https://shop.example/checkout", "must be scheme://host[:port] only"),
        ("allowed_origins", "ftp://shop.example", "is not an origin like https://shop.example"),
        ("allowed_origins", "https://*.shop.example", "must be scheme://host[:port] only"),
        ("allowed_origins", "shop.example", "is not an origin like https://shop.example"),
        ("min_relevance", "1.5", "Ensure this value is less than or equal to 1.0."),
        ("min_relevance", "abc", "Enter a number."),
        ("max_failed_answers", "0", "Ensure this value is greater than or equal to 1."),
        ("max_failed_answers", "50", "At most 20."),
        ("rate_limit_per_minute", "0", "Ensure this value is greater than or equal to 1."),
        ("rate_limit_per_minute", "100000", "At most 600 messages per minute."),
        ("history_turns", "21", "Ensure this value is less than or equal to 20."),
        ("bot_name", "", "This field is required."),
        ("handoff_topics", "x" * 120, "up to 100 characters"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_saved(login, merchant, field, value, message):
    before = settings_of(merchant) if ChatSettings.objects.filter(merchant=merchant).exists() else None
    response = login().post(reverse("chat:settings"), form(**{field: value}))
    assert response.status_code == 422
    html = response.content.decode()
    assert message in html
    assert re.search(rf'<p class="field-error" id="id_{field}_error">', html)
    saved = settings_of(merchant)
    assert saved.allowed_origins == (before.allowed_origins if before else [])
    assert saved.bot_name == "Assistant"


def test_too_many_origins(login, merchant):
    origins = "\n".join(f"https://shop{i}.example" for i in range(51))
    response = login().post(reverse("chat:settings"), form(allowed_origins=origins))
    assert response.status_code == 422 and "At most 50 origins." in response.content.decode()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR, Role.REVIEWER])
def test_only_owners_change_settings(login, merchant, role):
    client = login(role)
    html = client.get(reverse("chat:settings")).content.decode()
    assert "Read only" in html and 'data-testid="save-settings"' not in html
    assert re.search(r'<input type="text" name="bot_name"[^>]*disabled', html)
    assert 'data-testid="embed-snippet"' in html  # anyone may copy the snippet
    assert client.post(reverse("chat:settings"), form(bot_name="Hacked")).status_code == 403
    assert client.post(reverse("chat:rotate_token")).status_code == 403
    assert settings_of(merchant).bot_name == "Assistant"


def test_a_new_widget_token_replaces_the_old_one(login, merchant):
    client = login()
    client.get(reverse("chat:settings"))
    old = settings_of(merchant).widget_token
    response = client.post(reverse("chat:rotate_token"), follow=True)
    new = settings_of(merchant).widget_token
    assert new != old and new.startswith("wgt_")
    html = response.content.decode()
    assert "New widget token issued" in html and f"/widget/{new}/widget.js" in html and old not in html
    assert client.get(reverse("chat_widget_script", args=[old])).status_code == 404
    assert client.get(reverse("chat_widget_script", args=[new])).status_code == 200


def test_settings_are_per_merchant(login, merchant, other_merchant):
    theirs = ChatSettings.objects.create(merchant=other_merchant, bot_name="Their bot")
    login().post(reverse("chat:settings"), form(bot_name="Our bot"))
    theirs.refresh_from_db()
    assert settings_of(merchant).bot_name == "Our bot" and theirs.bot_name == "Their bot"
    html = login().get(reverse("chat:settings")).content.decode()
    assert theirs.widget_token not in html
