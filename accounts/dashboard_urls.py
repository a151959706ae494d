from django.urls import path

from accounts import views

app_name = "dashboard"
urlpatterns = [path("", views.home, name="home")]
