"""A Hugging Face Hub stand-in on loopback, for tests: the part of the Hub HTTP API that the real
``huggingface_hub`` client (uploads, refs, tags) and ``datasets.load_dataset`` (listing, downloads) use.

Repos, commits and refs live in memory. Faults can be injected: ``fail_commits`` answers the commit endpoint
with HTTP 500 that many times; ``drop_commits`` closes the connection without answering.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse


def git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Commit:
    oid: str
    files: dict[str, bytes]
    message: str


@dataclass
class Repo:
    repo_id: str
    repo_type: str
    commits: list[Commit] = field(default_factory=list)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        revision = unquote(revision)
        oid = self.branches.get(revision) or self.tags.get(revision) or revision
        return next((c for c in self.commits if c.oid == oid), None)


class HubState:
    def __init__(self):
        self.repos: dict[tuple[str, str], Repo] = {}
        self.fail_commits = 0
        self.drop_commits = 0
        self.tokens_seen: set[str] = set()
        self.endpoint = ""
        self.lock = threading.Lock()

    def repo(self, repo_type: str, repo_id: str) -> Repo | None:
        return self.repos.get((repo_type, repo_id))


class Handler(BaseHTTPRequestHandler):
    state: HubState
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    # --- plumbing ---
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload=None, raw: bytes | None = None, headers: dict | None = None, head=False):
        data = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        self.send_response(status)
        if raw is None:
            self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head and self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, message: str, code: str | None = None):
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, {"error": message}, headers=headers)

    def _auth(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            self.state.tokens_seen.add(auth[7:])

    def _route(self, method: str):
        self._auth()
        url = urlparse(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        query = parse_qs(url.query)
        try:
            self._dispatch(method, parts, query)
        except ConnectionError:
            raise
        except Exception as error:
            self._error(500, f"test hub error: {error!r}")

    def do_GET(self):
        self._route("GET")

    def do_HEAD(self):
        self._route("HEAD")

    def do_POST(self):
        self._route("POST")

    # --- API ---
    def _dispatch(self, method, parts, query):
        s = self.state
        if parts[:3] == ["api", "repos", "create"] and method == "POST":
            body = json.loads(self._body() or b"{}")
            repo_type = body.get("type", "model")
            repo_id = f"{body['organization']}/{body['name']}" if body.get("organization") else body["name"]
            with s.lock:
                if s.repo(repo_type, repo_id):
                    return self._send(
                        409, {"error": "You already created this repo", "url": f"{s.endpoint}/{repo_type}s/{repo_id}"}
                    )
                init = Commit(
                    oid=hashlib.sha1(f"init:{repo_id}".encode()).hexdigest(), files={}, message="initial commit"
                )
                s.repos[(repo_type, repo_id)] = Repo(repo_id, repo_type, [init], {"main": init.oid})
            return self._send(200, {"url": f"{s.endpoint}/{repo_type}s/{repo_id}", "name": repo_id})
        if parts[:2] == ["api", "validate-yaml"]:
            self._body()
            return self._send(200, {"errors": [], "warnings": []})
        if parts[0] == "api" and len(parts) >= 4 and parts[1] in ("datasets", "models", "spaces"):
            repo_type = parts[1][:-1]
            repo_id = f"{parts[2]}/{parts[3]}"
            rest = parts[4:]
            repo = s.repo(repo_type, repo_id)
            if repo is None:
                self._body()
                return self._error(404, "Repository not found", code="RepoNotFound")
            return self._repo_api(method, repo, rest, query)
        if len(parts) >= 5 and parts[0] in ("datasets", "models") and parts[3] == "resolve":
            repo = s.repo(parts[0][:-1], f"{parts[1]}/{parts[2]}")
            if repo is None:
                return self._error(404, "Repository not found", code="RepoNotFound")
            return self._resolve(method, repo, parts[4], "/".join(parts[5:]))
        self._body()
        return self._error(404, f"no route {method} /{'/'.join(parts)}")

    def _info(self, repo: Repo, commit: Commit) -> dict:
        return {
            "id": repo.repo_id,
            "_id": repo.repo_id,
            "sha": commit.oid,
            "private": False,
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "lastModified": "2026-01-01T00:00:00.000Z",
            "siblings": [
                {"rfilename": p, "size": len(d), "blobId": git_blob_sha(d)} for p, d in sorted(commit.files.items())
            ],
            "cardData": {},
        }

    def _repo_api(self, method, repo: Repo, rest, query):
        s = self.state
        if not rest or rest[0] == "revision":
            commit = repo.resolve(rest[1] if len(rest) > 1 else "main")
            if commit is None:
                return self._error(404, "Revision not found", code="RevisionNotFound")
            return self._send(200, self._info(repo, commit), head=method == "HEAD")
        action = rest[0]
        if action == "refs":

            def ref(kind, name, oid):
                return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": oid}

            return self._send(
                200,
                {
                    "branches": [ref("heads", n, o) for n, o in repo.branches.items()],
                    "tags": [ref("tags", n, o) for n, o in repo.tags.items()],
                    "converts": [],
                    "pullRequests": [],
                },
            )
        if action == "preupload" and method == "POST":
            body = json.loads(self._body())
            return self._send(
                200,
                {
                    "files": [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                        for f in body["files"]
                    ],
                    "commitOid": repo.branches["main"],
                },
            )
        if action == "commit" and method == "POST":
            body = self._body()
            with s.lock:
                if s.drop_commits > 0:
                    s.drop_commits -= 1
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                if s.fail_commits > 0:
                    s.fail_commits -= 1
                    return self._error(500, "injected failure")
                branch = unquote(rest[1]) if len(rest) > 1 else "main"
                parent = repo.resolve(branch)
                files = dict(parent.files) if parent else {}
                message = ""
                for line in body.splitlines():
                    item = json.loads(line)
                    if item["key"] == "header":
                        message = item["value"].get("summary", "")
                    elif item["key"] == "file":
                        value = item["value"]
                        content = value["content"]
                        files[value["path"]] = (
                            base64.b64decode(content) if value.get("encoding") == "base64" else content.encode()
                        )
                    elif item["key"] in ("deletedFile", "deletedFolder"):
                        path = item["value"]["path"]
                        for name in [p for p in files if p == path or p.startswith(path.rstrip("/") + "/")]:
                            del files[name]
                    else:
                        return self._error(400, f"unsupported commit item {item['key']}")
                oid = hashlib.sha1(
                    json.dumps(
                        [
                            parent.oid if parent else None,
                            sorted((p, git_blob_sha(d)) for p, d in files.items()),
                            message,
                        ]
                    ).encode()
                ).hexdigest()
                repo.commits.append(Commit(oid, files, message))
                repo.branches[branch] = oid
            return self._send(
                200,
                {
                    "commitUrl": f"{s.endpoint}/{repo.repo_type}s/{repo.repo_id}/commit/{oid}",
                    "commitOid": oid,
                    "pullRequestUrl": None,
                },
            )
        if action == "tag" and method == "POST":
            body = json.loads(self._body())
            commit = repo.resolve(rest[1])
            if commit is None:
                return self._error(404, "Revision not found", code="RevisionNotFound")
            if body["tag"] in repo.tags:
                return self._error(409, "Tag already exists")
            repo.tags[body["tag"]] = commit.oid
            return self._send(200, {})
        if action in ("tree", "paths-info"):
            commit = repo.resolve(rest[1])
            if commit is None:
                self._body()
                return self._error(404, "Revision not found", code="RevisionNotFound")
            if action == "paths-info":
                raw = self._body().decode()
                fields = parse_qs(raw) if not raw.startswith("{") else {"paths": json.loads(raw)["paths"]}
                wanted = fields.get("paths", [])
                entries = [self._entry(p, commit) for p in wanted]
                return self._send(200, [e for e in entries if e])
            base = "/".join(rest[2:]).strip("/")
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            return self._send(200, self._tree(commit, base, recursive))
        if action == "parquet":
            return self._error(404, "no parquet conversion")
        self._body()
        return self._error(404, f"no route for {action}")

    def _entry(self, path: str, commit: Commit) -> dict | None:
        path = path.strip("/")
        if path in commit.files:
            data = commit.files[path]
            return {"type": "file", "path": path, "size": len(data), "oid": git_blob_sha(data)}
        if any(p.startswith(path + "/") for p in commit.files) or path == "":
            return {"type": "directory", "path": path, "oid": hashlib.sha1(path.encode()).hexdigest(), "size": 0}
        return None

    def _tree(self, commit: Commit, base: str, recursive: bool) -> list[dict]:
        prefix = f"{base}/" if base else ""
        out, dirs = [], set()
        for path in sorted(commit.files):
            if not path.startswith(prefix):
                continue
            tail = path[len(prefix) :]
            head, sep, _ = tail.partition("/")
            if sep and not recursive:
                dirs.add(prefix + head)
                continue
            if sep and recursive:
                parts = tail.split("/")[:-1]
                for i in range(len(parts)):
                    dirs.add(prefix + "/".join(parts[: i + 1]))
            out.append(self._entry(path, commit))
        return [self._entry(d, commit) for d in sorted(dirs)] + out

    def _resolve(self, method, repo: Repo, revision: str, path: str):
        commit = repo.resolve(revision)
        if commit is None:
            return self._error(404, "Revision not found", code="RevisionNotFound")
        if path not in commit.files:
            return self._error(404, "Entry not found", code="EntryNotFound")
        data = commit.files[path]
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{git_blob_sha(data)}"', "Accept-Ranges": "bytes"}
        range_header = self.headers.get("Range")
        if range_header and range_header.startswith("bytes="):
            start, _, end = range_header[6:].partition("-")
            start = int(start or 0)
            end = int(end) if end else len(data) - 1
            chunk = data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{start + len(chunk) - 1}/{len(data)}"
            self._send(206, raw=chunk, headers=headers, head=method == "HEAD")
            return None
        self._send(200, raw=data, headers=headers, head=method == "HEAD")
        return None


class HubServer:
    """``with HubServer() as hub: ...`` serves on ``hub.endpoint`` (127.0.0.1, a free port)."""

    def __init__(self):
        self.state = HubState()
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.state.endpoint = self.endpoint

    @property
    def endpoint(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
