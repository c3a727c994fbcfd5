"""Runs localstripe bound to loopback only (its own command binds every interface)."""
import sys

from aiohttp import web
from localstripe.server import app

if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8420
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
