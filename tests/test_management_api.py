"""The Management API stand-in held to the published contract (tests/fixtures, a copy of the
functions and secrets routes of the spec the Supabase CLI is generated from), and the
toolkit's client held to what the answers mean (401 the token, 404 the ref, 429 Retry-After,
5xx retried then exit 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from toolkit.dev.management_api import ManagementApiServer
from toolkit.dev.management_api.server import ROUTES, StandIn
from toolkit.errors import ToolkitError
from toolkit.management import ManagementApi, Project

CONTRACT = json.loads((Path(__file__).parent / "fixtures" / "management-api-functions-secrets.openapi.json").read_text())
TOKEN = "sbp_" + "0123456789abcdef" * 2 + "01234567"
REF = "abcdefghijklmnopqrst"
OTHER_REF = "zyxwvutsrqponmlkjihg"


@pytest.fixture(scope="module")
def server():
    with ManagementApiServer(TOKEN, [REF]) as s:
        yield s


@pytest.fixture(autouse=True)
def _fresh(server):
    server.stand_in.reset()


# ---------------------------------------------------------------------------------------------
# A small JSON-schema check for the contract's response schemas ($ref, type, required, enum, items)

def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = CONTRACT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def conforms(value, schema: dict, where: str = "$") -> list[str]:
    schema = _resolve(schema)
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool}
    if kind in types and (not isinstance(value, types[kind]) or (kind == "integer" and isinstance(value, bool))):
        return [f"{where}: {value!r} is not {kind}"]
    problems = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} not in {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        problems.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if kind == "object":
        problems += [f"{where}.{k}: required" for k in schema.get("required", []) if k not in value]
        for k, sub in schema.get("properties", {}).items():
            if k in value:
                problems += conforms(value[k], sub, f"{where}.{k}")
    if kind == "array":
        for i, item in enumerate(value):
            problems += conforms(item, schema.get("items", {}), f"{where}[{i}]")
    return problems


def response_schema(path: str, method: str, status: int) -> dict | None:
    content = CONTRACT["paths"][path][method]["responses"][str(status)].get("content")
    return content["application/json"]["schema"] if content else None


# ---------------------------------------------------------------------------------------------
# Requests

def multipart(metadata: dict | str | None, files: dict[str, bytes], boundary: str = "b0undary") -> tuple[bytes, str]:
    out = b""
    if metadata is not None:
        text = metadata if isinstance(metadata, str) else json.dumps(metadata)
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{text}\r\n').encode()
    for path, content in files.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


INDEX = b'import { x } from "../_shared/x.ts";\nDeno.serve(() => new Response(x));\n'
GOOD_META = {"entrypoint_path": "fn/index.ts", "verify_jwt": False, "name": "hello"}
GOOD_FILES = {"fn/index.ts": INDEX, "_shared/x.ts": b'export const x = "hi";\n'}


def call(server, method: str, path: str, token: str | None = TOKEN, **kw) -> httpx.Response:
    headers = kw.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    with httpx.Client(base_url=server.url, trust_env=False) as c:
        return c.request(method, path, headers=headers, **kw)


def deploy(server, metadata=GOOD_META, files=GOOD_FILES, query="?slug=hello", raw: bytes | None = None,
           content_type: str | None = None, token=TOKEN, ref=REF) -> httpx.Response:
    body, ctype = multipart(metadata, files)
    return call(server, "POST", f"/v1/projects/{ref}/functions/deploy{query}", token=token,
                content=raw if raw is not None else body, headers={"Content-Type": content_type or ctype})


CASES = [
    ("deploy", lambda s: deploy(s), 201),
    ("deploy without slug takes metadata.name", lambda s: deploy(s, query=""), 201),
    ("deploy, bundle only", lambda s: deploy(s, query="?slug=hello&bundleOnly=true"), 201),
    ("no token", lambda s: deploy(s, token=None), 401),
    ("malformed token", lambda s: deploy(s, token="sbp_nothex"), 401),
    ("well-formed, wrong token", lambda s: deploy(s, token="sbp_" + "f" * 40), 401),
    ("ref too short", lambda s: deploy(s, ref="abc"), 400),
    ("ref with digits", lambda s: deploy(s, ref="abcdefghij0123456789"), 400),
    ("unknown ref", lambda s: deploy(s, ref=OTHER_REF), 404),
    ("slug starting with a digit", lambda s: deploy(s, query="?slug=1hello"), 400),
    ("slug with a dot", lambda s: deploy(s, query="?slug=hel.lo"), 400),
    ("bundleOnly not a boolean", lambda s: deploy(s, query="?slug=hello&bundleOnly=maybe"), 400),
    ("missing metadata", lambda s: deploy(s, metadata=None), 400),
    ("metadata not JSON", lambda s: deploy(s, metadata="{not json"), 400),
    ("metadata without entrypoint", lambda s: deploy(s, metadata={"verify_jwt": True}), 400),
    ("verify_jwt not a boolean", lambda s: deploy(s, metadata={**GOOD_META, "verify_jwt": "false"}), 400),
    ("static_patterns not a list", lambda s: deploy(s, metadata={**GOOD_META, "static_patterns": "*.html"}), 400),
    ("entrypoint not uploaded", lambda s: deploy(s, files={"_shared/x.ts": b"x"}), 400),
    ("import map not uploaded", lambda s: deploy(s, metadata={**GOOD_META, "import_map_path": "deno.json"}), 400),
    ("not multipart", lambda s: deploy(s, raw=b"{}", content_type="application/json"), 400),
    ("multipart without closing boundary", lambda s: deploy(s, raw=multipart(GOOD_META, GOOD_FILES)[0][:-14]), 400),
    ("multipart part without name", lambda s: deploy(
        s, raw=b'--b0undary\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b0undary--\r\n'), 400),
    ("list functions", lambda s: call(s, "GET", f"/v1/projects/{REF}/functions"), 200),
    ("get a missing function", lambda s: call(s, "GET", f"/v1/projects/{REF}/functions/nothere"), 404),
    ("get with a bad slug", lambda s: call(s, "GET", f"/v1/projects/{REF}/functions/bad.slug"), 400),
    ("delete a missing function", lambda s: call(s, "DELETE", f"/v1/projects/{REF}/functions/nothere"), 404),
    ("set secrets", lambda s: call(s, "POST", f"/v1/projects/{REF}/secrets", json=[{"name": "A_KEY", "value": "v"}]), 201),
    ("SUPABASE_ secret name", lambda s: call(s, "POST", f"/v1/projects/{REF}/secrets",
                                             json=[{"name": "SUPABASE_URL", "value": "v"}]), 400),
    ("secret name too long", lambda s: call(s, "POST", f"/v1/projects/{REF}/secrets",
                                            json=[{"name": "A" * 257, "value": "v"}]), 400),
    ("secret value too long", lambda s: call(s, "POST", f"/v1/projects/{REF}/secrets",
                                             json=[{"name": "A", "value": "v" * 24577}]), 400),
    ("secret without value", lambda s: call(s, "POST", f"/v1/projects/{REF}/secrets", json=[{"name": "A"}]), 400),
    ("secrets body not an array", lambda s: call(s, "POST", f"/v1/projects/{REF}/secrets", json={"A": "v"}), 400),
    ("secrets without token", lambda s: call(s, "GET", f"/v1/projects/{REF}/secrets", token=None), 401),
    ("delete secrets", lambda s: call(s, "DELETE", f"/v1/projects/{REF}/secrets", json=["A_KEY"]), 200),
    ("delete secrets, body not names", lambda s: call(s, "DELETE", f"/v1/projects/{REF}/secrets", json=[1]), 400),
    ("bulk update, unknown id", lambda s: call(s, "PUT", f"/v1/projects/{REF}/functions", json=[
        {"id": "x", "slug": "hello", "name": "hello", "status": "ACTIVE", "version": 1}]), 400),
    ("bulk update, missing fields", lambda s: call(s, "PUT", f"/v1/projects/{REF}/functions", json=[{"id": "x"}]), 400),
]


@pytest.mark.parametrize("name, request_, status", CASES, ids=[c[0] for c in CASES])
def test_request_table(server, name, request_, status):
    response = request_(server)
    assert response.status_code == status, response.text
    if status >= 400:
        assert "message" in response.json()


def test_every_route_the_stand_in_serves_is_a_published_route():
    published = {re.sub(r"\{[^}]+\}", "X", p) for p in CONTRACT["paths"]}
    served = {re.sub(r"\(\?P<\w+>\[\^/\]\+\)", "X", pattern.pattern.strip("^$")) for name, pattern in ROUTES
              if name != "project"}  # the project route: not in this contract, read by the Supabase CLI
    assert served <= published, served - published
    for path, operations in CONTRACT["paths"].items():
        concrete = path.replace("{ref}", REF).replace("{function_slug}", "some-fn")
        name = next((n for n, pattern in ROUTES if pattern.match(concrete)), None)
        for method, op in operations.items():
            if op.get("deprecated") or method == "patch" or path.endswith("/body"):
                continue  # not served: the deprecated eszip create, PATCH and the eszip body
            assert name and hasattr(StandIn, f"_{name}_{method}"), f"{method.upper()} {path} is not served"


def test_answers_conform_to_the_published_schemas(server):
    r = deploy(server)
    assert not conforms(r.json(), response_schema("/v1/projects/{ref}/functions/deploy", "post", 201))
    r = call(server, "GET", f"/v1/projects/{REF}/functions")
    assert r.json() and not conforms(r.json(), response_schema("/v1/projects/{ref}/functions", "get", 200))
    r = call(server, "GET", f"/v1/projects/{REF}/functions/hello")
    assert not conforms(r.json(), response_schema("/v1/projects/{ref}/functions/{function_slug}", "get", 200))
    bundle = deploy(server, query="?slug=other&bundleOnly=true").json()
    assert call(server, "GET", f"/v1/projects/{REF}/functions/other").status_code == 404  # bundled, not deployed
    r = call(server, "PUT", f"/v1/projects/{REF}/functions", json=[{**bundle, "version": 7}])
    assert r.status_code == 200 and not conforms(r.json(), response_schema("/v1/projects/{ref}/functions", "put", 200))
    assert call(server, "GET", f"/v1/projects/{REF}/functions/other").json()["version"] == 7
    call(server, "POST", f"/v1/projects/{REF}/secrets", json=[{"name": "A_KEY", "value": "the-value"}])
    r = call(server, "GET", f"/v1/projects/{REF}/secrets")
    assert not conforms(r.json(), response_schema("/v1/projects/{ref}/secrets", "get", 200))
    assert "the-value" not in r.text and r.json()[0]["name"] == "A_KEY"


def test_the_schema_check_can_fail():
    schema = response_schema("/v1/projects/{ref}/functions/{function_slug}", "get", 200)
    assert conforms({"id": "x", "slug": "s", "name": "n", "status": "GONE", "version": "1"}, schema)


def test_a_deploy_is_kept_byte_for_byte_and_versions_count_up(server):
    binary = bytes(range(256)) * 3 + b"\r\n--b0und"
    files = {**GOOD_FILES, "_shared/blob.bin": binary}
    assert deploy(server, files=files).json()["version"] == 1
    assert deploy(server, files=files).json()["version"] == 2
    upload = server.stand_in.uploads[-1]
    assert upload.files == files and upload.metadata == GOOD_META and upload.slug == "hello"
    assert call(server, "DELETE", f"/v1/projects/{REF}/functions/hello").status_code == 200
    assert call(server, "GET", f"/v1/projects/{REF}/functions/hello").status_code == 404


# ---------------------------------------------------------------------------------------------
# The client

def client(server, sleeps: list | None = None, token: str = TOKEN, ref: str = REF) -> ManagementApi:
    project = Project.resolve(ref, server.url)
    return ManagementApi(project, token=token, sleep=(sleeps.append if sleeps is not None else lambda s: None))


def test_formats_are_checked_before_any_call(server):
    with pytest.raises(ToolkitError, match="20 lowercase letters"):
        Project.resolve("Not-A-Ref", server.url)
    with pytest.raises(ToolkitError, match="sbp_") as bad:
        ManagementApi(Project.resolve(REF, server.url), token="sbp_short-and-secret")
    assert "short-and-secret" not in bad.value.message
    with pytest.raises(ToolkitError, match="https"):
        Project.resolve(REF, "http://api.example.com")
    assert server.stand_in.requests == []


def test_401_names_the_token_404_the_ref(server):
    with pytest.raises(ToolkitError, match="access token") as e:
        client(server, token="sbp_" + "e" * 40).list_functions()
    assert "e" * 40 not in e.value.message
    with pytest.raises(ToolkitError, match=f"project {OTHER_REF} was not found") as e:
        client(server, ref=OTHER_REF).list_secrets()
    assert "SUPABASE_PROJECT_REF" in e.value.hint
    assert e.value.exit_code == 2


def test_429_waits_as_retry_after_says(server):
    sleeps: list[float] = []
    server.stand_in.fail_next(429, times=2, retry_after="3")
    assert client(server, sleeps).list_functions() == []
    assert sleeps == [3.0, 3.0]
    server.stand_in.fail_next(429, retry_after="3600")  # longer than the toolkit waits: give up
    with pytest.raises(ToolkitError, match="429"):
        client(server, []).list_functions()


def test_5xx_is_retried_with_backoff_then_exit_2(server):
    sleeps: list[float] = []
    server.stand_in.fail_next(503, times=2)
    assert client(server, sleeps).list_secrets() == []
    assert sleeps == [0.5, 1.0]
    server.stand_in.fail_next(500, times=10)
    with pytest.raises(ToolkitError, match="after 5 tries") as e:
        client(server, []).list_secrets()
    assert e.value.exit_code == 2
