from django.urls import path

from bnpl_admin.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("webhooks/", views.EventList.as_view(), name="list"),
    path("webhooks/<int:event_id>/", views.event_detail, name="detail"),
    path("webhooks/<int:event_id>/reprocess/", views.reprocess, name="reprocess"),
    path("merchants/", views.merchant_list, name="merchants"),
]
