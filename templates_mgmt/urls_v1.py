from django.urls import path

from templates_mgmt import views

urlpatterns = [path("template", views.TemplateView.as_view(), name="v1-template")]
