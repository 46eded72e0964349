"""LOCAL ONLY: the Management API stand-in's logic (`StandIn`) and its HTTP server on 127.0.0.1.

Routes (the published contract of the functions and secrets routes):
  GET    /v1/projects/{ref}/functions                 200 [FunctionResponse]
  PUT    /v1/projects/{ref}/functions                 200 {functions: [...]}   bulk update after bundleOnly deploys
  POST   /v1/projects/{ref}/functions/deploy?slug=S[&bundleOnly=true]   201 DeployFunctionResponse
  GET    /v1/projects/{ref}/functions/{slug}          200 FunctionSlugResponse | 404
  DELETE /v1/projects/{ref}/functions/{slug}          200 | 404
  GET    /v1/projects/{ref}                           200 the project (the Supabase CLI reads it)
  GET    /v1/projects/{ref}/secrets                   200 [{name, value: sha256 digest, updated_at}]
  POST   /v1/projects/{ref}/secrets                   201   body [{name, value}], no SUPABASE_ names
  DELETE /v1/projects/{ref}/secrets                   200   body ["NAME", ...]
A bad or missing bearer token is 401, a malformed ref or body 400, an unknown ref 404.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"  # never exposed beyond this machine
REF = re.compile(r"^[a-z]{20}$")
TOKEN = re.compile(r"^sbp_(oauth_)?[a-f0-9]{40}$")
DEPLOY_SLUG = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
PATH_SLUG = re.compile(r"^[A-Za-z0-9_-]+$")
SECRET_NAME_MAX, SECRET_VALUE_MAX = 256, 24576
STATUSES = ("ACTIVE", "REMOVED", "THROTTLED")
METADATA_TYPES = {"entrypoint_path": str, "import_map_path": str, "name": str, "verify_jwt": bool,
                  "static_patterns": list}

ROUTES = [
    ("project", re.compile(r"^/v1/projects/(?P<ref>[^/]+)$")),
    ("secrets", re.compile(r"^/v1/projects/(?P<ref>[^/]+)/secrets$")),
    ("functions", re.compile(r"^/v1/projects/(?P<ref>[^/]+)/functions$")),
    ("deploy", re.compile(r"^/v1/projects/(?P<ref>[^/]+)/functions/deploy$")),
    ("function", re.compile(r"^/v1/projects/(?P<ref>[^/]+)/functions/(?P<slug>[^/]+)$")),
]


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Upload:
    """One deploy request as received: what tests compare."""

    ref: str
    slug: str
    bundle_only: bool
    metadata: dict
    files: dict[str, bytes]


@dataclass
class Function:
    id: str
    slug: str
    name: str
    version: int
    created_at: int
    updated_at: int
    verify_jwt: bool
    entrypoint_path: str
    import_map_path: str | None
    files: dict[str, bytes] = field(repr=False)
    status: str = "ACTIVE"

    @property
    def ezbr_sha256(self) -> str:
        digest = hashlib.sha256()
        for path in sorted(self.files):
            digest.update(path.encode() + b"\0" + hashlib.sha256(self.files[path]).digest())
        return digest.hexdigest()

    def response(self) -> dict:
        body = {"id": self.id, "slug": self.slug, "name": self.name, "status": self.status, "version": self.version,
                "created_at": self.created_at, "updated_at": self.updated_at, "verify_jwt": self.verify_jwt,
                "import_map": self.import_map_path is not None, "entrypoint_path": self.entrypoint_path,
                "ezbr_sha256": self.ezbr_sha256}
        if self.import_map_path is not None:
            body["import_map_path"] = self.import_map_path
        return body


@dataclass
class Project:
    functions: dict[str, Function] = field(default_factory=dict)
    bundles: dict[str, Function] = field(default_factory=dict)     # bundleOnly results by id, until a PUT
    secrets: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (value, updated_at)


def _now_ms() -> int:
    return int(time.time() * 1000)


class StandIn:
    """The API's state and answers, without HTTP (the server wraps it)."""

    def __init__(self, token: str, refs: list[str]):
        if not TOKEN.match(token):
            raise ValueError("the stand-in's token must look like a personal access token (sbp_ + 40 hex)")
        self.token = token
        self.projects = {ref: Project() for ref in refs}
        self.uploads: list[Upload] = []
        self.requests: list[tuple[str, str]] = []         # (method, path) in order, for tests
        self._faults: list[tuple[int, str | None]] = []   # statuses to answer next, before anything else
        self.refused_slugs: dict[str, int] = {}            # deploys of these slugs answer this status
        self._lock = threading.Lock()

    # -- knobs for tests -----------------------------------------------------------------------
    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        with self._lock:
            self._faults.extend([(status, retry_after)] * times)

    def refuse_deploys(self, slug: str, status: int) -> None:
        with self._lock:
            self.refused_slugs[slug] = status

    def reset(self) -> None:
        with self._lock:
            self.refused_slugs.clear()
            for project in self.projects.values():
                project.functions.clear()
                project.bundles.clear()
                project.secrets.clear()
            self.uploads.clear()
            self.requests.clear()
            self._faults.clear()

    def secret_value(self, ref: str, name: str) -> str | None:
        found = self.projects[ref].secrets.get(name)
        return found[0] if found else None

    # -- one request -----------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, object, dict]:
        """(status, JSON body, extra headers)."""
        url = urlsplit(target)
        with self._lock:
            self.requests.append((method, url.path))
            fault = self._faults.pop(0) if self._faults else None
        if fault:
            status, retry_after = fault
            return status, {"message": "injected fault"}, ({"Retry-After": retry_after} if retry_after else {})
        try:
            return self._route(method, url.path, parse_qs(url.query), headers, body)
        except ApiError as exc:
            return exc.status, {"message": exc.message}, {}

    def _route(self, method, path, query, headers, body):
        for name, pattern in ROUTES:
            m = pattern.match(path)
            if m:
                break
        else:
            raise ApiError(404, "Cannot " + method + " " + path)
        self._authorize(headers)
        project = self._project(m.group("ref"))
        handler = getattr(self, f"_{name}_{method.lower()}", None)
        if handler is None:
            raise ApiError(405, f"{method} is not allowed on {path}")
        with self._lock:
            if name == "function":
                return handler(project, _path_slug(m.group("slug")), query, headers, body)
            if name == "deploy":
                return handler(project, m.group("ref"), query, headers, body)
            return handler(project, query, headers, body)

    def _authorize(self, headers: dict[str, str]) -> None:
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not TOKEN.match(token.strip()) or token.strip() != self.token:
            raise ApiError(401, "Unauthorized")

    def _project(self, ref: str) -> Project:
        if not REF.match(ref):
            raise ApiError(400, "ref must be 20 lowercase letters")
        if ref not in self.projects:
            raise ApiError(404, "Project not found")
        return self.projects[ref]

    def _project_get(self, project, query, headers, body):
        # Not one of the contract's routes, but the Supabase CLI reads it after each command.
        ref = next(r for r, p in self.projects.items() if p is project)
        return 200, {"id": ref, "ref": ref, "name": ref, "organization_id": "local", "region": "local",
                     "status": "ACTIVE_HEALTHY", "created_at": "1970-01-01T00:00:00Z"}, {}

    # -- functions -----------------------------------------------------------------------------
    def _functions_get(self, project, query, headers, body):
        return 200, [f.response() for f in project.functions.values()], {}

    def _function_get(self, project, slug, query, headers, body):
        if slug not in project.functions:
            raise ApiError(404, "Function not found")
        return 200, project.functions[slug].response(), {}

    def _function_delete(self, project, slug, query, headers, body):
        if project.functions.pop(slug, None) is None:
            raise ApiError(404, "Function not found")
        return 200, {"message": f"Deleted function {slug}"}, {}

    def _deploy_post(self, project, ref, query, headers, body):
        parts = parse_multipart(headers.get("content-type", ""), body)
        metadata = _metadata([p for p in parts if p.name == "metadata"])
        files: dict[str, bytes] = {}
        for part in parts:
            if part.name == "file":
                if not part.filename:
                    raise ApiError(400, "every file part needs a filename (its path)")
                files[part.filename] = part.content
            elif part.name != "metadata":
                raise ApiError(400, f"unexpected form field {part.name!r}")
        slug = _one(query, "slug") or metadata.get("name")
        if not slug or not DEPLOY_SLUG.match(slug):
            raise ApiError(400, "slug must match ^[A-Za-z][A-Za-z0-9_-]*$")
        if slug in self.refused_slugs:
            raise ApiError(self.refused_slugs[slug], "injected refusal")
        bundle_only = (_one(query, "bundleOnly") or "false").lower()
        if bundle_only not in ("true", "false"):
            raise ApiError(400, "bundleOnly must be true or false")
        if metadata["entrypoint_path"] not in files:
            raise ApiError(400, f"entrypoint {metadata['entrypoint_path']!r} is not among the uploaded files")
        import_map = metadata.get("import_map_path")
        if import_map and import_map not in files:
            raise ApiError(400, f"import map {import_map!r} is not among the uploaded files")
        self.uploads.append(Upload(ref, slug, bundle_only == "true", metadata, files))
        current = project.functions.get(slug)
        now = _now_ms()
        fn = Function(id=current.id if current else str(uuid.uuid4()), slug=slug, name=metadata.get("name") or slug,
                      version=(current.version if current else 0) + 1, created_at=current.created_at if current else now,
                      updated_at=now, verify_jwt=metadata.get("verify_jwt", True),
                      entrypoint_path=metadata["entrypoint_path"], import_map_path=import_map, files=files)
        if bundle_only == "true":
            project.bundles[fn.id] = fn
        else:
            project.functions[slug] = fn
        return 201, fn.response(), {}

    def _functions_put(self, project, query, headers, body):
        items = _json(body)
        if not isinstance(items, list):
            raise ApiError(400, "the body must be an array of functions")
        updated = []
        for item in items:
            if not isinstance(item, dict) or any(k not in item for k in ("id", "slug", "name", "status", "version")):
                raise ApiError(400, "each function needs id, slug, name, status and version")
            if not isinstance(item["slug"], str) or not DEPLOY_SLUG.match(item["slug"]):
                raise ApiError(400, "slug must match ^[A-Za-z][A-Za-z0-9_-]*$")
            if item["status"] not in STATUSES or not isinstance(item["version"], int):
                raise ApiError(400, "status must be ACTIVE, REMOVED or THROTTLED and version an integer")
            fn = project.bundles.pop(item["id"], None) or next(
                (f for f in project.functions.values() if f.id == item["id"]), None)
            if fn is None:
                raise ApiError(400, f"no bundle or function with id {item['id']}")
            fn.slug, fn.name, fn.status, fn.version = item["slug"], item["name"], item["status"], item["version"]
            if "verify_jwt" in item:
                fn.verify_jwt = bool(item["verify_jwt"])
            fn.updated_at = _now_ms()
            project.functions[fn.slug] = fn
            updated.append(fn.response())
        return 200, {"functions": updated}, {}

    # -- secrets -------------------------------------------------------------------------------
    def _secrets_get(self, project, query, headers, body):
        return 200, [{"name": n, "value": hashlib.sha256(v.encode()).hexdigest(), "updated_at": at}
                     for n, (v, at) in sorted(project.secrets.items())], {}

    def _secrets_post(self, project, query, headers, body):
        items = _json(body)
        if not isinstance(items, list):
            raise ApiError(400, "the body must be an array of {name, value}")
        checked = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(item.get("value"), str):
                raise ApiError(400, "each secret needs a string name and value")
            name, value = item["name"], item["value"]
            if not name or len(name) > SECRET_NAME_MAX:
                raise ApiError(400, f"a secret name has 1 to {SECRET_NAME_MAX} characters")
            if name.startswith("SUPABASE_"):
                raise ApiError(400, "Secret name must not start with the SUPABASE_ prefix.")
            if len(value) > SECRET_VALUE_MAX:
                raise ApiError(400, f"a secret value has at most {SECRET_VALUE_MAX} characters")
            checked.append((name, value))
        at = datetime.now(timezone.utc).isoformat()
        for name, value in checked:
            project.secrets[name] = (value, at)
        return 201, None, {}

    def _secrets_delete(self, project, query, headers, body):
        names = _json(body)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ApiError(400, "the body must be an array of secret names")
        for name in names:
            project.secrets.pop(name, None)
        return 200, {}, {}


def _path_slug(slug: str) -> str:
    if not PATH_SLUG.match(slug):
        raise ApiError(400, "function_slug must match ^[A-Za-z0-9_-]+$")
    return slug


def _one(query: dict, name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _json(body: bytes):
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise ApiError(400, "the body is not JSON") from None


def _metadata(parts: list["Part"]) -> dict:
    if len(parts) != 1:
        raise ApiError(400, "exactly one metadata field is required")
    try:
        metadata = json.loads(parts[0].content)
    except ValueError:
        raise ApiError(400, "metadata is not JSON") from None
    if not isinstance(metadata, dict):
        raise ApiError(400, "metadata must be an object")
    if not isinstance(metadata.get("entrypoint_path"), str) or not metadata["entrypoint_path"]:
        raise ApiError(400, "metadata.entrypoint_path is required")
    for key, kind in METADATA_TYPES.items():
        if key in metadata and not isinstance(metadata[key], kind):
            raise ApiError(400, f"metadata.{key} must be a {kind.__name__}")
    if not all(isinstance(p, str) for p in metadata.get("static_patterns", [])):
        raise ApiError(400, "metadata.static_patterns must be strings")
    return metadata


# ---------------------------------------------------------------------------------------------
# multipart/form-data, parsed exactly (file contents byte for byte)

@dataclass
class Part:
    name: str
    filename: str | None
    content: bytes


_PARAM = re.compile(r';\s*([A-Za-z*]+)=(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    m = re.match(r'^multipart/form-data\s*;.*boundary=(?:"([^"]+)"|([^;\s]+))', content_type, re.IGNORECASE)
    if not m:
        raise ApiError(400, "the body must be multipart/form-data with a boundary")
    delimiter = b"--" + (m.group(1) or m.group(2)).encode()
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise ApiError(400, "malformed multipart body (no closing boundary)")
    parts = []
    for chunk in chunks[1:-1]:
        inner = chunk[2:-2]
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n") or b"\r\n\r\n" not in inner:
            raise ApiError(400, "malformed multipart body (a part without headers)")
        head, content = inner.split(b"\r\n\r\n", 1)
        disposition = ""
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-disposition":
                disposition = value.strip()
        if not disposition.lower().startswith("form-data"):
            raise ApiError(400, "malformed multipart body (a part without Content-Disposition: form-data)")
        params = {k.lower(): (q.replace('\\"', '"').replace("\\\\", "\\") if q is not None else v.strip())
                  for k, q, v in _PARAM.findall(disposition)}
        if "name" not in params:
            raise ApiError(400, "malformed multipart body (a part without a name)")
        parts.append(Part(params["name"], params.get("filename"), content))
    return parts


# ---------------------------------------------------------------------------------------------
# HTTP

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_HTTPServer"

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        body = self._body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra = self.server.stand_in.handle(self.command, self.path, headers, body)
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args) -> None:  # quiet: tests read `requests` instead
        pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, stand_in: StandIn):
        super().__init__(address, _Handler)
        self.stand_in = stand_in

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class ManagementApiServer:
    """The stand-in on 127.0.0.1 in a daemon thread; `url` is what --api-url takes."""

    def __init__(self, token: str, refs: list[str], port: int = 0):
        self.stand_in = StandIn(token, refs)
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "ManagementApiServer":
        if self._httpd is None:
            self._httpd = _HTTPServer((HOST, self._port), self.stand_in)
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                            name="management-api-stand-in", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the stand-in is not running: call start() first")
        return f"http://{HOST}:{self._httpd.server_address[1]}"

    def __enter__(self) -> "ManagementApiServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
