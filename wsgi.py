"""Production entry point: ``gunicorn -w 1 --threads 64 -b 0.0.0.0:8050 wsgi:application``.

One worker per process (Socket.IO keeps per-connection state in the process);
scale out by running more processes behind a proxy with sticky sessions (e.g.
nginx ``ip_hash``). Every process tails ``{cc}:live`` itself and delivers to its
own pages; the consumers of all processes share the inbound streams through the
consumer group, so each event is processed once.
"""

from __future__ import annotations

import logging

from app import create_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
pingan = create_app()
pingan.start()
application = pingan.server
