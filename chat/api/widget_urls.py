"""Mounted at /widget/ (config.urls). The widget script itself, /widget/<token>/widget.js, is served by
chat.widget.views."""

from django.urls import path, re_path

from chat.api.widget import (
    WidgetConfigView,
    WidgetConversationsView,
    WidgetMessagesView,
    WidgetStreamView,
)

urlpatterns = [
    re_path(r"^(?P<token>[^/]+)/config/?$", WidgetConfigView.as_view(), name="widget-config"),
    path("<str:token>/conversations/", WidgetConversationsView.as_view(), name="widget-conversations"),
    path(
        "<str:token>/conversations/<int:conversation_id>/messages/",
        WidgetMessagesView.as_view(),
        name="widget-messages",
    ),
    path(
        "<str:token>/conversations/<int:conversation_id>/stream/",
        WidgetStreamView.as_view(),
        name="widget-stream",
    ),
]
