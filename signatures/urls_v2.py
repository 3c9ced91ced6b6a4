from django.urls import path

from signatures import views

urlpatterns = [path("signreview", views.SignReviewView.as_view(), name="v2-signreview")]
