from django.urls import path

from chat.conversations import views as conversation_views
from chat.knowledge import views as knowledge_views
from chat.training import views as training_views
from chat.widget import views as widget_views

# Mounted at /chat/. The widget script (/widget/<token>/widget.js) and the demo store (/demo/store/) are
# mounted in config.urls, outside the dashboard.
app_name = "chat"
urlpatterns = [
    path("", conversation_views.inbox_view, name="inbox"),
    path("conversations/<int:conversation_id>/", conversation_views.conversation_view, name="conversation"),
    path(
        "conversations/<int:conversation_id>/updates/",
        conversation_views.conversation_updates_view,
        name="conversation_updates",
    ),
    path(
        "conversations/<int:conversation_id>/take-over/", conversation_views.take_over_view, name="take_over"
    ),
    path(
        "conversations/<int:conversation_id>/hand-back/", conversation_views.hand_back_view, name="hand_back"
    ),
    path("conversations/<int:conversation_id>/resolve/", conversation_views.resolve_view, name="resolve"),
    path("conversations/<int:conversation_id>/reply/", conversation_views.reply_view, name="reply"),
    path(
        "conversations/<int:conversation_id>/messages/<int:message_id>/rate/",
        conversation_views.message_rate_view,
        name="message_rate",
    ),
    path(
        "conversations/<int:conversation_id>/messages/<int:message_id>/correct/",
        conversation_views.message_correct_view,
        name="message_correct",
    ),
    path("knowledge/", knowledge_views.knowledge_list_view, name="knowledge"),
    path("knowledge/new/", knowledge_views.knowledge_create_view, name="knowledge_create"),
    path("knowledge/import/", knowledge_views.knowledge_import_view, name="knowledge_import"),
    path("knowledge/<int:item_id>/", knowledge_views.knowledge_item_view, name="knowledge_item"),
    path("knowledge/<int:item_id>/edit/", knowledge_views.knowledge_edit_view, name="knowledge_edit"),
    path("knowledge/<int:item_id>/delete/", knowledge_views.knowledge_delete_view, name="knowledge_delete"),
    path("settings/", widget_views.settings_view, name="settings"),
    path("settings/rotate-token/", widget_views.rotate_token_view, name="rotate_token"),
    path("training/", training_views.training_view, name="training"),
    path("training/import/", training_views.training_import_view, name="training_import_upload"),
    path(
        "training/imports/<int:import_id>/",
        training_views.training_import_detail_view,
        name="training_import",
    ),
    path("training/start/", training_views.training_start_view, name="training_start"),
]
