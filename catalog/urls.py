from django.urls import path

from catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.product_list_view, name="product_list"),
    path("products/new/", views.product_create_view, name="product_create"),
    path("products/attribute-row/", views.attribute_row_view, name="attribute_row"),
    path("products/<int:product_id>/", views.product_detail_view, name="product_detail"),
    path("products/<int:product_id>/edit/", views.product_edit_view, name="product_edit"),
    path("import/", views.import_view, name="import"),
    path("imports/", views.import_list_view, name="import_list"),
    path("imports/<int:import_id>/", views.import_detail_view, name="import_detail"),
    path("imports/<int:import_id>/apply/", views.import_apply_view, name="import_apply"),
]
