"""Everything under ``/sms/``: seed 000's station API and its ``/sms/callback`` provider push, two
rooms mounted at one prefix (the root URLconf includes this once)."""

from sms.pushes.urls import sms_urlpatterns as push_urlpatterns
from sms.station_api.urls import urlpatterns as station_urlpatterns

urlpatterns = [*station_urlpatterns, *push_urlpatterns]
