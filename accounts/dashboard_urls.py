from django.urls import path

from accounts import views
from marketing import views as marketing_views
from ml import views as ml_views

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("switch-merchant/", views.switch_merchant, name="switch_merchant"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/api-keys/", views.api_key_create_view, name="api_key_create"),
    path("settings/api-keys/<str:prefix>/revoke/", views.api_key_revoke_view, name="api_key_revoke"),
    # The campaign pages live in marketing.urls (under /campaigns/); this name keeps the navigation's link.
    path("campaigns/", marketing_views.campaign_list_view, name="campaigns"),
    path("review/", marketing_views.review_view, name="review"),
    path("customers/", views.planned_area, {"area": "customers"}, name="customers"),
    path("insights/", views.planned_area, {"area": "insights"}, name="insights"),
    # The Models page lives in ml.urls; this name keeps the navigation's `dashboard:models` link pointing at it.
    path("models/", ml_views.model_list_view, name="models"),
]
