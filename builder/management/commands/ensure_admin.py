import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the admin account once (password generated and kept in var/) and print its credentials."

    def handle(self, *args, **options):
        User = get_user_model()
        username = settings.KILN_ADMIN_USERNAME
        password_file = settings.VAR_DIR / "admin-password"
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(username=username, email="", password=password)
            password_file.write_text(password)
            password_file.chmod(0o600)
        elif password_file.exists():
            password = password_file.read_text().strip()
        else:
            self.stdout.write(f"Admin account: {username} (exists; its password was set elsewhere)")
            return
        self.stdout.write(f"Admin account: {username} / {password}")
