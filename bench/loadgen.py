"""The load generator of ``make bench``: its own process, plain HTTP/1.1 to ``ent serve``.

``bench/run.py`` starts it once per measure with a JSON job on stdin and reads a JSON result
on stdout. It is asyncio over raw sockets (one connection per request, with ``Connection:
close``: the server's worst case, every request pays its connection), so that the generator
costs a fraction of what it measures: on a 2-core machine it shares the cores with the
server, and a heavier client (requests, httpx) would take the server's CPU and lower every
figure.

Each virtual client has its own cookie jar and its own client address, sent in
``X-Forwarded-For`` as the reverse proxy of a deployment does (``ent serve`` runs with
``ENT_TRUSTED_PROXIES=127.0.0.1``): per-address throttling then sees thousands of students,
not one machine.

Jobs (``kind``):
- ``trivial``, ``cas``, ``oidc``, ``login``: ``concurrency`` clients send ``count`` requests
  (``login`` is one GET of the form and one POST, counted as one login). Result: the rate
  of successful requests over the wall time, and the errors.
- ``wave``: the activation wave. Each client takes the next student and goes through the whole
  journey (identify, form, mail, link, button, first login, portal); the mail comes through
  an aiosmtpd SMTP server run here. Result: per-step latencies, errors, throughput.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import random
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

CSRF_RE = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
LINK_RE = re.compile(r"(https?://\S+/activation/confirm\?code=[A-Za-z0-9]+)")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    cookies: list[str]
    body: bytes
    elapsed: float


class BenchError(Exception):
    """A request that did not answer what the journey expects."""


@dataclass
class Client:
    """One virtual user: its cookie jar and its address."""

    host: str
    port: int
    address: str
    jar: dict[str, str] = field(default_factory=dict)
    # The login job's browser state right after its one GET of the form: cookies, CSRF token.
    form_state: tuple[dict[str, str], str] | None = None

    async def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        body = urlencode(form).encode() if form is not None else b""
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Connection: close",
            "User-Agent: ent-bench",
            "Accept-Language: fr-FR",
            f"X-Forwarded-For: {self.address}",
        ]
        if self.jar:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.jar.items()))
        if form is not None:
            lines.append("Content-Type: application/x-www-form-urlencoded")
            lines.append(f"Content-Length: {len(body)}")
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        start = time.perf_counter()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(raw)
            data = await reader.read()  # until the server closes (Connection: close)
        finally:
            writer.close()
        elapsed = time.perf_counter() - start
        head, _, payload = data.partition(b"\r\n\r\n")
        if not head:
            raise BenchError(f"{method} {path}: empty answer")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers_out: dict[str, str] = {}
        cookies: list[str] = []
        for line in header_lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            value = value.strip()
            if name == "set-cookie":
                cookies.append(value)
            else:
                headers_out[name] = value
        if headers_out.get("transfer-encoding", "").lower() == "chunked":
            payload = _unchunk(payload)
        for cookie in cookies:
            pair, *attributes = cookie.split(";")
            key, _, value = pair.strip().partition("=")
            if value in ("", '""') or any(a.strip().lower() == "max-age=0" for a in attributes):
                self.jar.pop(key, None)
            else:
                self.jar[key] = value
        return Response(status, headers_out, cookies, payload, elapsed)


def _unchunk(payload: bytes) -> bytes:
    out = bytearray()
    while payload:
        size_line, _, rest = payload.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        payload = rest[size + 2 :]
    return bytes(out)


def csrf(response: Response) -> str:
    match = CSRF_RE.search(response.body)
    if not match:
        raise BenchError(f"no CSRF token in a {response.status} page")
    return html.unescape(match.group(1).decode())


def expect(response: Response, status: int, what: str, location: str | None = None) -> None:
    if response.status != status:
        raise BenchError(f"{what}: HTTP {response.status}, expected {status}")
    if location is not None and not response.headers.get("location", "").startswith(location):
        raise BenchError(f"{what}: redirected to {response.headers.get('location')!r}")


def address(n: int) -> str:
    """A distinct documentation-range-free client address per virtual user (10.x.y.z)."""
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


# --- Rate jobs ---------------------------------------------------------------------------


async def one_trivial(client: Client, item: Any, job: dict[str, Any]) -> None:
    response = await client.request("GET", "/healthz")
    expect(response, 200, "healthz")


async def one_cas(client: Client, ticket: str, job: dict[str, Any]) -> None:
    query = urlencode({"ticket": ticket, "service": job["service"]})
    response = await client.request("GET", f"/cas/serviceValidate?{query}")
    expect(response, 200, "serviceValidate")
    if b"<cas:authenticationSuccess>" not in response.body:
        raise BenchError("serviceValidate: " + response.body[:200].decode(errors="replace"))


async def one_oidc(client: Client, code: str, job: dict[str, Any]) -> None:
    basic = base64.b64encode(
        f"{quote(job['client_id'], safe='')}:{quote(job['client_secret'], safe='')}".encode()
    ).decode()
    response = await client.request(
        "POST",
        "/oauth/token/",
        form={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": job["redirect_uri"],
            "code_verifier": job["code_verifier"],
        },
        headers={"Authorization": f"Basic {basic}"},
    )
    expect(response, 200, "token")
    if b'"id_token"' not in response.body:
        raise BenchError("token: no id_token in " + response.body[:200].decode(errors="replace"))


async def login_post(client: Client, token: str, identifier: str, password: str) -> Response:
    """The POST of the login form, which must answer with a redirect away from it."""
    answer = await client.request(
        "POST",
        "/login",
        form={"csrfmiddlewaretoken": token, "identifier": identifier, "password": password},
    )
    expect(answer, 302, "login")
    if urlsplit(answer.headers.get("location", "")).path.startswith("/login"):
        raise BenchError("login: sent back to the form")
    return answer


async def login(
    client: Client, identifier: str, password: str, job: dict[str, Any] | None = None
) -> tuple[Response, Response]:
    """The form page, then its POST (with the student's pause between them in the wave)."""
    form_page = await client.request("GET", "/login")
    expect(form_page, 200, "login form")
    if job is not None:
        await think(job)
    return form_page, await login_post(client, csrf(form_page), identifier, password)


async def one_login_page(client: Client, item: list[str], job: dict[str, Any]) -> None:
    client.jar.clear()  # each login is a new browser: no session, a fresh form
    await login(client, item[0], job["password"])


async def one_login(client: Client, item: list[str], job: dict[str, Any]) -> None:
    """The POST of the form: a new session each time. The form page is fetched once per
    client (a page view, measured with the wave); its CSRF pair stays valid, so each POST
    starts from the browser state right after that GET."""
    if client.form_state is None:
        client.jar.clear()
        page = await client.request("GET", "/login")
        expect(page, 200, "login form")
        client.form_state = (dict(client.jar), csrf(page))
    jar, token = client.form_state
    client.jar = dict(jar)
    await login_post(client, token, item[0], job["password"])


RATE_JOBS = {
    "trivial": one_trivial,
    "cas": one_cas,
    "oidc": one_oidc,
    "login": one_login,
    "login_page": one_login_page,
}


async def rate_job(job: dict[str, Any]) -> dict[str, Any]:
    action = RATE_JOBS[job["kind"]]
    items = job.get("items") or [None] * job["count"]
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    errors: list[str] = []
    done = 0

    async def worker(n: int) -> None:
        nonlocal done
        client = Client(job["host"], job["port"], address(n + 1))
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                await action(client, item, job)
                done += 1
            except (BenchError, OSError, ValueError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    start = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(job["concurrency"])))
    elapsed = time.perf_counter() - start
    return {
        "kind": job["kind"],
        "ok": done,
        "errors": len(errors),
        "error_samples": errors[:5],
        "seconds": elapsed,
        "rate": done / elapsed,
    }


# --- The activation wave ----------------------------------------------------------------


class Mailbox:
    """Activation links received by the SMTP server, handed to the waiting clients."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: dict[str, asyncio.Future[str]] = {}
        self.early: dict[str, str] = {}
        self.lock = threading.Lock()
        self.received = 0

    def wait_for(self, recipient: str) -> asyncio.Future[str]:
        with self.lock:
            future: asyncio.Future[str] = self.loop.create_future()
            if recipient in self.early:
                future.set_result(self.early.pop(recipient))
            else:
                self.waiting[recipient] = future
            return future

    def deliver(self, recipient: str, link: str) -> None:  # SMTP thread
        with self.lock:
            self.received += 1
            future = self.waiting.pop(recipient, None)
            if future is None:
                self.early[recipient] = link
            else:
                self.loop.call_soon_threadsafe(future.set_result, link)

    # aiosmtpd handler
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        match = LINK_RE.search(text)
        if match:
            for recipient in envelope.rcpt_tos:
                self.deliver(recipient.lower(), match.group(1))
        return "250 OK"


@dataclass
class Recorder:
    """Latency of each request by step, and the delay of each activation mail."""

    latencies: dict[str, list[float]]
    mail_delays: list[float]

    def __call__(self, step: str, response: Response) -> None:
        self.latencies.setdefault(step, []).append(response.elapsed)

    def mail(self, delay: float) -> None:
        self.mail_delays.append(delay)


async def think(job: dict[str, Any]) -> None:
    """A student reading the page and typing: a pause before each of their actions."""
    low, high = job["think"]
    await asyncio.sleep(random.uniform(low, high))


async def activate(
    client: Client, student: list[str], job: dict[str, Any], mailbox: Mailbox, record: Recorder
) -> None:
    number, ine = student
    email = f"etu{number}@perso.example.org"
    password = job["password"]
    page = await client.request("GET", "/activation/")
    record("identify form", page)
    expect(page, 200, "identify form")
    await think(job)
    answer = await client.request(
        "POST",
        "/activation/",
        form={"csrfmiddlewaretoken": csrf(page), "student_number": number, "ine": ine},
    )
    record("identify", answer)
    expect(answer, 302, "identify", "/activation/details/")
    page = await client.request("GET", "/activation/details/")
    record("details form", page)
    expect(page, 200, "details form")
    await think(job)
    answer = await client.request(
        "POST",
        "/activation/details/",
        form={
            "csrfmiddlewaretoken": csrf(page),
            "email": email,
            "email_confirmed": "on",
            "password1": password,
            "password2": password,
            "charter": "on",
        },
    )
    record("details (hashes)", answer)
    expect(answer, 302, "details", "/activation/sent/")
    mailed = time.perf_counter()
    page = await client.request("GET", "/activation/sent/")
    record("sent page", page)
    expect(page, 200, "sent page")
    link = await asyncio.wait_for(mailbox.wait_for(email), timeout=120)
    record.mail(time.perf_counter() - mailed)
    await think(job)
    path = urlsplit(link).path + "?" + urlsplit(link).query
    answer = await client.request("GET", path)
    record("link", answer)
    expect(answer, 302, "link", "/activation/confirm")
    page = await client.request("GET", "/activation/confirm")
    record("confirm page", page)
    expect(page, 200, "confirm page")
    await think(job)
    answer = await client.request(
        "POST", "/activation/confirm", form={"csrfmiddlewaretoken": csrf(page)}
    )
    record("confirm", answer)
    expect(answer, 200, "confirm")
    client.jar.clear()  # the student signs in later, in a new browser session
    form_page, answer = await login(client, number, password, job)
    record("login form", form_page)
    record("login (hashes)", answer)
    location = urlsplit(answer.headers["location"]).path or "/"
    page = await client.request("GET", location)
    record("portal", page)
    expect(page, 200, "portal")


async def wave_job(job: dict[str, Any]) -> dict[str, Any]:
    from aiosmtpd.controller import Controller

    loop = asyncio.get_running_loop()
    mailbox = Mailbox(loop)
    controller = Controller(mailbox, hostname="127.0.0.1", port=job["smtp_port"])
    controller.start()
    latencies: dict[str, list[float]] = {}
    mail_delays: list[float] = []
    errors: list[str] = []
    activated = 0
    queue: asyncio.Queue[list[str]] = asyncio.Queue()
    for student in job["items"]:
        queue.put_nowait(student)

    record = Recorder(latencies, mail_delays)

    async def worker(n: int) -> None:
        nonlocal activated
        # The students arrive over the first seconds, not all in the same millisecond.
        await asyncio.sleep(n * job["ramp"] / job["concurrency"])
        while True:
            try:
                student = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            client = Client(job["host"], job["port"], address(n * 10_000 + queue.qsize() + 1))
            try:
                await activate(client, student, job, mailbox, record)
                activated += 1
            except (TimeoutError, BenchError, OSError, ValueError) as exc:
                errors.append(f"{student[0]}: {type(exc).__name__}: {exc}")

    start = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(job["concurrency"])))
    elapsed = time.perf_counter() - start
    controller.stop()
    return {
        "kind": "wave",
        "activated": activated,
        "errors": len(errors),
        "error_samples": errors[:5],
        "seconds": elapsed,
        "latencies": latencies,
        "mail_delays": mail_delays,
        "mails": mailbox.received,
    }


def main() -> None:
    job = json.load(sys.stdin)
    runner = wave_job if job["kind"] == "wave" else rate_job
    result = asyncio.run(runner(job))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
