"""URLs of the chat training API (mounted by config.api)."""

from django.urls import path

from chat.training.api.views import ChatFinetuneView, DialogueImportView, SupportDialogueListView

urlpatterns = [
    path("chat/dialogues/import/", DialogueImportView.as_view(), name="chat-dialogue-import"),
    path("chat/dialogues/", SupportDialogueListView.as_view(), name="chat-dialogue-list"),
    path("chat/finetune/", ChatFinetuneView.as_view(), name="chat-finetune"),
]
