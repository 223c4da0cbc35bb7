from django.urls import path

from bench.ceiling import views

urlpatterns = [
    path("ok", views.ok, name="ok"),
    path("pk/<int:pk>", views.by_pk, name="pk"),
    path("keyset", views.KeysetList.as_view(), name="keyset"),
]
