"""The import-time WSGI app for gunicorn: ``gunicorn web.wsgi:app``. Nowhere else makes one."""

from web import create_app

app = create_app()
