"""The dashboard's routes, assembled here from the apps that serve them (so accounts imports no feature app)."""

from django.urls import path

from accounts import member_views, views
from config import overview
from marketing.campaigns import views as campaign_views
from marketing.review import views as review_views
from ml import views as ml_views

app_name = "dashboard"
urlpatterns = [
    path("", overview.home, name="home"),
    path("switch-merchant/", views.switch_merchant, name="switch_merchant"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/api-keys/", views.api_key_create_view, name="api_key_create"),
    path("settings/api-keys/<str:prefix>/revoke/", views.api_key_revoke_view, name="api_key_revoke"),
    path("settings/members/", member_views.members_page, name="members"),
    path("settings/members/invite/", member_views.member_invite_view, name="member_invite"),
    path(
        "settings/members/<int:membership_id>/role/",
        member_views.membership_role_view,
        name="membership_role",
    ),
    path(
        "settings/members/<int:membership_id>/remove/",
        member_views.membership_remove_view,
        name="membership_remove",
    ),
    path(
        "settings/invitations/<int:invitation_id>/revoke/",
        member_views.invitation_revoke_view,
        name="invitation_revoke",
    ),
    # Public: the invitation link from the email (the token is the credential).
    path("invitations/<str:token>/", member_views.invitation_accept_view, name="invitation_accept"),
    # The campaign pages live in marketing.urls (under /campaigns/); this name keeps the navigation's link.
    path("campaigns/", campaign_views.campaign_list_view, name="campaigns"),
    path("review/", review_views.review_view, name="review"),
    path("insights/", views.planned_area, {"area": "insights"}, name="insights"),
    # The Models page lives in ml.urls; this name keeps the navigation's `dashboard:models` link pointing at it.
    path("models/", ml_views.model_list_view, name="models"),
]
