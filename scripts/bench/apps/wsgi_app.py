# The WSGI twin of handlers.mjs + fetch-app.mjs, for Waitress: `waitress-serve wsgi_app:app`.
# Same routes, bodies and headers; the upload is read in 64 KiB pieces and never kept whole.
import json

HELLO = b"Hello, World!"
TEXT = "text/plain; charset=utf-8"
BIG_BODY = "x" * (64 * 1024)
JSON_ITEMS = 1000
READ_SIZE = 64 * 1024


def render_json():
    items = [
        {"id": i, "name": "item %d" % i, "active": i % 2 == 0, "score": i * 0.5, "tags": ["a", "b"]}
        for i in range(JSON_ITEMS)
    ]
    return json.dumps(items, separators=(",", ":"))


def reply(start_response, status, content_type, body):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/":
        return reply(start_response, "200 OK", TEXT, HELLO)
    if path == "/64k":
        # Encoded per response, as the JavaScript servers encode their string body.
        return reply(start_response, "200 OK", TEXT, BIG_BODY.encode())
    if path == "/json":
        return reply(start_response, "200 OK", "application/json", render_json().encode())
    if path == "/upload":
        stream = environ["wsgi.input"]
        n = 0
        while True:
            piece = stream.read(READ_SIZE)
            if not piece:
                break
            n += len(piece)
        return reply(start_response, "200 OK", TEXT, str(n).encode())
    return reply(start_response, "404 Not Found", TEXT, b"Not Found")
