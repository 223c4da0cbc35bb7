from django.urls import path

from bnpl_admin.collection import views

app_name = "collection"

urlpatterns = [
    path("", views.CaseQueue.as_view(), name="queue"),
    path("<int:case_id>/", views.case_detail, name="case"),
    path("<int:case_id>/assign/", views.assign_case, name="assign"),
    path("<int:case_id>/notes/", views.add_note, name="add_note"),
    path("<int:case_id>/promises/", views.add_promise, name="add_promise"),
]
