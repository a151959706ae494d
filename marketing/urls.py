from django.urls import path

from marketing import copy_training_views
from marketing.campaigns import views as campaign_views
from marketing.publishing import views as publishing_views
from marketing.review import piece_views
from marketing.review import views as review_views

# Mounted at /campaigns/. The review queue lives at /review/ as `dashboard:review` (config.dashboard_urls).
app_name = "marketing"
urlpatterns = [
    path("", campaign_views.campaign_list_view, name="campaign_list"),
    path("new/", campaign_views.campaign_create_view, name="campaign_create"),
    path("brand-voice/", campaign_views.brand_voice_view, name="brand_voice"),
    path("copy-model/finetune/", copy_training_views.copy_finetune_view, name="copy_finetune"),
    # Settings › Webhooks (linked from the Settings area): where published copy is pushed.
    path("webhooks/", publishing_views.webhooks_view, name="webhooks"),
    path("webhooks/new/", publishing_views.webhook_create_view, name="webhook_create"),
    path("webhooks/<int:endpoint_id>/edit/", publishing_views.webhook_edit_view, name="webhook_edit"),
    path("webhooks/<int:endpoint_id>/active/", publishing_views.webhook_toggle_view, name="webhook_toggle"),
    path("webhooks/<int:endpoint_id>/delete/", publishing_views.webhook_delete_view, name="webhook_delete"),
    path("products/picker/", campaign_views.product_picker_view, name="product_picker"),
    path(
        "products/filter-preview/", campaign_views.product_filter_preview_view, name="product_filter_preview"
    ),
    path("<int:campaign_id>/", campaign_views.campaign_detail_view, name="campaign_detail"),
    path("<int:campaign_id>/edit/", campaign_views.campaign_edit_view, name="campaign_edit"),
    path("<int:campaign_id>/generate/", campaign_views.campaign_generate_view, name="campaign_generate"),
    path("<int:campaign_id>/progress/", campaign_views.campaign_progress_view, name="campaign_progress"),
    path("<int:campaign_id>/recheck/", campaign_views.campaign_recheck_view, name="campaign_recheck"),
    path("<int:campaign_id>/export/", publishing_views.campaign_export_view, name="campaign_export"),
    path("pieces/bulk-approve/", review_views.bulk_approve_view, name="bulk_approve"),
    path("pieces/bulk-reject/", review_views.bulk_reject_view, name="bulk_reject"),
    path("pieces/bulk-regenerate/", review_views.bulk_regenerate_view, name="bulk_regenerate"),
    path("pieces/<int:piece_id>/", piece_views.piece_card_view, name="piece_card"),
    path("pieces/<int:piece_id>/edit/", piece_views.piece_edit_view, name="piece_edit"),
    path("pieces/<int:piece_id>/approve/", piece_views.piece_approve_view, name="piece_approve"),
    path("pieces/<int:piece_id>/reject/", piece_views.piece_reject_view, name="piece_reject"),
    path("pieces/<int:piece_id>/regenerate/", piece_views.piece_regenerate_view, name="piece_regenerate"),
    path("pieces/<int:piece_id>/publish/", piece_views.piece_publish_view, name="piece_publish"),
    path("pieces/<int:piece_id>/unpublish/", piece_views.piece_unpublish_view, name="piece_unpublish"),
]
