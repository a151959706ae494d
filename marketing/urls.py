from django.urls import path

from marketing import copy_training_views, views, webhook_views

# Mounted at /campaigns/. The review queue lives at /review/ as `dashboard:review` (config.dashboard_urls).
app_name = "marketing"
urlpatterns = [
    path("", views.campaign_list_view, name="campaign_list"),
    path("new/", views.campaign_create_view, name="campaign_create"),
    path("brand-voice/", views.brand_voice_view, name="brand_voice"),
    path("copy-model/finetune/", copy_training_views.copy_finetune_view, name="copy_finetune"),
    # Settings › Webhooks (linked from the Settings area): where published copy is pushed.
    path("webhooks/", webhook_views.webhooks_view, name="webhooks"),
    path("webhooks/new/", webhook_views.webhook_create_view, name="webhook_create"),
    path("webhooks/<int:endpoint_id>/edit/", webhook_views.webhook_edit_view, name="webhook_edit"),
    path("webhooks/<int:endpoint_id>/active/", webhook_views.webhook_toggle_view, name="webhook_toggle"),
    path("webhooks/<int:endpoint_id>/delete/", webhook_views.webhook_delete_view, name="webhook_delete"),
    path("products/picker/", views.product_picker_view, name="product_picker"),
    path("products/filter-preview/", views.product_filter_preview_view, name="product_filter_preview"),
    path("<int:campaign_id>/", views.campaign_detail_view, name="campaign_detail"),
    path("<int:campaign_id>/edit/", views.campaign_edit_view, name="campaign_edit"),
    path("<int:campaign_id>/generate/", views.campaign_generate_view, name="campaign_generate"),
    path("<int:campaign_id>/progress/", views.campaign_progress_view, name="campaign_progress"),
    path("<int:campaign_id>/recheck/", views.campaign_recheck_view, name="campaign_recheck"),
    path("<int:campaign_id>/export/", views.campaign_export_view, name="campaign_export"),
    path("pieces/bulk-approve/", views.bulk_approve_view, name="bulk_approve"),
    path("pieces/bulk-reject/", views.bulk_reject_view, name="bulk_reject"),
    path("pieces/bulk-regenerate/", views.bulk_regenerate_view, name="bulk_regenerate"),
    path("pieces/<int:piece_id>/", views.piece_card_view, name="piece_card"),
    path("pieces/<int:piece_id>/edit/", views.piece_edit_view, name="piece_edit"),
    path("pieces/<int:piece_id>/approve/", views.piece_approve_view, name="piece_approve"),
    path("pieces/<int:piece_id>/reject/", views.piece_reject_view, name="piece_reject"),
    path("pieces/<int:piece_id>/regenerate/", views.piece_regenerate_view, name="piece_regenerate"),
    path("pieces/<int:piece_id>/publish/", views.piece_publish_view, name="piece_publish"),
    path("pieces/<int:piece_id>/unpublish/", views.piece_unpublish_view, name="piece_unpublish"),
]
