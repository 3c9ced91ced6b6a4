from django.urls import path

from templates_mgmt import views

urlpatterns = [path("tempreview", views.TempReviewView.as_view(), name="v2-tempreview")]
