from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import migrations
from django.utils import timezone

OLD_BACKEND = "django.contrib.auth.backends.ModelBackend"
NEW_BACKEND = "bnpl_admin.staff.signin.StaffBackend"


def name_staff_backend(apps, schema_editor):
    """Staff stay signed in across the upgrade: a live session naming ModelBackend names its
    subclass instead (Django signs out a session whose backend is no longer configured)."""
    Session = apps.get_model("sessions", "Session")
    store = SessionStore()
    renamed = []
    live = Session.objects.using(schema_editor.connection.alias).filter(expire_date__gt=timezone.now())
    for session in live.iterator():
        data = store.decode(session.session_data)
        if data.get(BACKEND_SESSION_KEY) == OLD_BACKEND:
            data[BACKEND_SESSION_KEY] = NEW_BACKEND
            session.session_data = store.encode(data)
            renamed.append(session)
    Session.objects.using(schema_editor.connection.alias).bulk_update(renamed, ["session_data"], batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ("staff", "0003_drop_staff_session"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(name_staff_backend, migrations.RunPython.noop)]
