"""URLs of the OpenID Connect provider (names in DOT's namespace, which its views reverse)."""

from django.urls import path, re_path
from oauth2_provider import views as dot_views

from . import oidc_views

app_name = "oauth2_provider"
urlpatterns = [
    re_path(
        r"^\.well-known/openid-configuration/?$",
        oidc_views.discovery,
        name="oidc-connect-discovery-info",
    ),
    path("oauth/authorize/", oidc_views.AuthorizeView.as_view(), name="authorize"),
    path("oauth/token/", oidc_views.TokenView.as_view(), name="token"),
    path("oauth/revoke/", dot_views.RevokeTokenView.as_view(), name="revoke-token"),
    path("oauth/userinfo/", oidc_views.UserInfoView.as_view(), name="user-info"),
    path("oauth/jwks/", dot_views.JwksInfoView.as_view(), name="jwks-info"),
    path("oauth/logout/", oidc_views.LogoutView.as_view(), name="rp-initiated-logout"),
]
