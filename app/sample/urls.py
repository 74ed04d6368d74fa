from django.urls import path

from notes import views as notes_views
from sample import health

urlpatterns = [
    path("", notes_views.index, name="index"),
    path("health/", health.health, name="health"),
    path("health/live/", health.live, name="health-live"),
]
