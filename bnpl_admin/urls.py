from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="customers:list", permanent=False), name="home"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("customers/", include("bnpl_admin.customers.urls")),
    path("admin/", admin.site.urls),
]
