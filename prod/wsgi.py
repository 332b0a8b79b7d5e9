"""The app behind the proxy: ``gunicorn -w 1 --threads 64 prod.wsgi:application``.

``wsgi.application`` itself, with the one change a proxy needs: the client's address is taken from the
``X-Forwarded-For`` HAProxy adds (one hop, ``option forwardfor``), so sign-in rate limits count each
browser and the audit log names it, instead of every request coming from the proxy's 127.0.0.1. The app
processes listen on loopback only, so only the proxy (or this machine) can set that header.
"""

from __future__ import annotations

from werkzeug.middleware.proxy_fix import ProxyFix

from wsgi import application as app

application = ProxyFix(app, x_for=1, x_proto=1)
