"""URLs of the CAS 3.0 server, mounted under ``/cas/``."""

from django.urls import path

from . import cas_views

app_name = "cas"
urlpatterns = [
    path("login", cas_views.login, name="login"),
    path("logout", cas_views.logout, name="logout"),
    path("validate", cas_views.validate, name="validate"),
    path("serviceValidate", cas_views.service_validate, name="service-validate"),
    path("proxyValidate", cas_views.proxy_validate, name="proxy-validate"),
    path("proxy", cas_views.proxy, name="proxy"),
    path("p3/serviceValidate", cas_views.service_validate, name="p3-service-validate"),
    path("p3/proxyValidate", cas_views.proxy_validate, name="p3-proxy-validate"),
]
