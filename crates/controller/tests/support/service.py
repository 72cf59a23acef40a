"""A small HTTP service for the controller's tests, run as a replica by the local platform.

It listens on 127.0.0.1:$PORT and answers every path with its version ($VERSION) and a newline,
except /health, which always answers "ok". $ERROR_RATE (0 to 1) of the other requests answer 500
(with the version in the body, so a test can tell injected errors from any other), spread evenly
rather than at random. SIGTERM stops accepting and exits once the listener is closed.
"""

import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("VERSION", "unversioned")
ERROR_RATE = float(os.environ.get("ERROR_RATE", "0"))
PORT = int(os.environ["PORT"])

lock = threading.Lock()
served = 0
failed = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle's algorithm holds the
    # body back for the client's delayed ACK, 40ms per keep-alive request.
    disable_nagle_algorithm = True

    def do_GET(self):
        global served, failed
        if self.path == "/health":
            self.reply(200, "ok")
            return
        with lock:
            served += 1
            fail = failed < served * ERROR_RATE
            if fail:
                failed += 1
        self.reply(500 if fail else 200, VERSION)

    def reply(self, status, text):
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
server.daemon_threads = True
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
print(f"{VERSION} listening on {PORT}", flush=True)
server.serve_forever()
