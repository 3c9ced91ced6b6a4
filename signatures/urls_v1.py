from django.urls import path

from signatures import views

urlpatterns = [path("signature", views.SignatureView.as_view(), name="v1-signature")]
