"""The models and the migrations agree (a forgotten migration fails CI, not a deployment)."""

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_missing_migration() -> None:
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
