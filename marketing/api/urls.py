from django.urls import path
from rest_framework.routers import SimpleRouter

from marketing.api.copy_training import CopyFinetuneView
from marketing.api.views import BrandVoiceView, CampaignViewSet, ContentViewSet, WebhookEndpointViewSet

router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("contents", ContentViewSet, basename="content")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

urlpatterns = [
    path("brand-voice/", BrandVoiceView.as_view(), name="brand-voice"),
    path("copy/finetune/", CopyFinetuneView.as_view(), name="copy-finetune"),
    *router.urls,
]
