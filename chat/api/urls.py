from rest_framework.routers import SimpleRouter

from chat.api.views import ConversationViewSet, KnowledgeItemViewSet

router = SimpleRouter()
router.register("chat/conversations", ConversationViewSet, basename="chat-conversation")
router.register("chat/knowledge", KnowledgeItemViewSet, basename="chat-knowledge")

urlpatterns = router.urls
