from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import auth_views as password_pages
from accounts.forms import LoginForm

app_name = "accounts"
urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html",
            authentication_form=LoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    # Django's LogoutView only accepts POST, so a link or prefetch cannot log anyone out.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", password_pages.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/change/done/", password_pages.PasswordChangeDoneView.as_view(), name="password_change_done"
    ),
    path("password/reset/", password_pages.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", password_pages.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        password_pages.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        password_pages.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
