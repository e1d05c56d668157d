"""The REST API: the platform's authenticated front door (FastAPI, imported only in this package).

``hokusai.api.app.create_app(settings)`` builds the application. The key store,
sign-in and rate-limit rules are plain modules here (``keys``, ``siwe``,
``sessions``, ``limits``) that import no web framework, so the CLI manages keys
without loading FastAPI.
"""
