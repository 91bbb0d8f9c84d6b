"""Security (SSRF): a webhook is never sent inside a network. ``webhooks.addresses_to_call`` decides which
addresses of a URL's host may be called (every one globally routable, IPv4 embedded in IPv6 judged as the
IPv4 address it stands for); ``webhooks.http_send`` connects to the address that was checked, with the Host
header, TLS SNI and the certificate check on the URL's name, and never looks the name up again.

The registration and delivery rules over the API: tests/api/test_agency_api.py."""
from __future__ import annotations

import datetime as dt
import http.server
import socket
import ssl
import threading

import pytest

from app.services import webhooks
from app.services.webhooks import AddressNotAllowed

NAME = "hooks.agency.example"


@pytest.fixture
def ctx(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    with app.app_context():
        yield app


@pytest.fixture
def resolves(monkeypatch):
    """``resolves(addresses)``: the webhooks module resolves NAME to these (no real DNS)."""
    def set_(addresses: list[str]):
        def getaddrinfo(host, port, *args, **kwargs):
            assert host == NAME
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                     (a, port, 0, 0) if ":" in a else (a, port)) for a in addresses]

        monkeypatch.setattr(webhooks, "getaddrinfo", getaddrinfo)

    return set_


INSIDE = ["127.0.0.1", "10.0.0.5", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
          "192.0.2.1", "198.18.0.1", "240.0.0.1", "255.255.255.255", "224.0.0.1", "239.255.255.250",
          "::1", "::", "fe80::1", "fc00::1", "2001:db8::1", "ff02::1", "ff0e::1",
          "::ffff:127.0.0.1", "::ffff:10.0.0.5",  # IPv4-mapped
          "64:ff9b::a00:5",  # NAT64 (RFC 6052) of 10.0.0.5
          "2002:a00:5::1"]  # 6to4 of 10.0.0.5


@pytest.mark.parametrize("address", INSIDE)
def test_webhook_host_with_an_address_inside_a_private_network_is_refused(ctx, resolves, address):
    resolves([address])
    with pytest.raises(AddressNotAllowed):
        webhooks.addresses_to_call(f"https://{NAME}/h")
    resolves(["93.184.215.14", address])  # one address inside is enough
    with pytest.raises(AddressNotAllowed):
        webhooks.addresses_to_call(f"https://{NAME}/h")


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
                                     "::ffff:93.184.215.14", "64:ff9b::5db8:d70e"])
def test_webhook_host_on_public_addresses_is_called_at_them(ctx, resolves, address):
    resolves([address, address])
    assert webhooks.addresses_to_call(f"https://{NAME}:8443/h") == [address]


def test_webhook_host_that_does_not_resolve_is_refused(ctx, monkeypatch):
    def getaddrinfo(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(webhooks, "getaddrinfo", getaddrinfo)
    with pytest.raises(AddressNotAllowed):
        webhooks.addresses_to_call(f"https://{NAME}/h")
    with pytest.raises(AddressNotAllowed):
        webhooks.addresses_to_call("https:///h")  # no host at all


def test_webhook_allow_private_lifts_the_address_rule_only(ctx, resolves, monkeypatch):
    monkeypatch.setitem(ctx.config, "WEBHOOK_ALLOW_PRIVATE", True)
    resolves(["127.0.0.1", "::1"])
    assert webhooks.addresses_to_call(f"http://{NAME}:9/h") == ["127.0.0.1", "::1"]


# ---------------------------------------------------------------- the sender connects to the checked address


class Seen:
    def __init__(self):
        self.requests, self.sni = [], []


def _server(seen: Seen, tls: ssl.SSLContext | None = None):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.requests.append((self.path, self.headers["Host"], body, self.headers.get("Authorization")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture
def no_lookup_of_the_name(monkeypatch):
    """Any lookup of NAME (by the socket module: http.client, ssl) fails the test."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        assert not str(host).endswith("agency.example"), f"{host} looked up again"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_http_send_connects_to_the_checked_address_with_the_name_in_host(ctx, no_lookup_of_the_name):
    seen = Seen()
    httpd = _server(seen)
    port = httpd.server_address[1]
    try:
        status = webhooks.http_send(f"http://user:p%40ss@{NAME}:{port}/hook/回调?x=1", b'{"a":1}',
                                    {"content-type": "application/json"}, "127.0.0.1")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert status == 204
    (path, host, body, authorization), = seen.requests
    assert (path, host, body) == ("/hook/%E5%9B%9E%E8%B0%83?x=1", f"{NAME}:{port}", b'{"a":1}')
    assert authorization == "Basic dXNlcjpwQHNz"  # user:p@ss, as requests sent URL credentials


def _certificates(tmp_path, name: str):
    """A test CA (its PEM file) and a server certificate for ``name`` signed by it (a server-side context)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def cert(subject, key, issuer, issuer_key, *, ca: bool, san: str | None = None):
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
             .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])).public_key(key.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
             .not_valid_after(now + dt.timedelta(hours=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            b = b.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                              content_commitment=False, key_encipherment=False,
                                              data_encipherment=False, key_agreement=False, encipher_only=False,
                                              decipher_only=False), critical=True)
            b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        else:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
            b = b.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = cert("test CA", ca_key, "test CA", ca_key, ca=True)
    leaf = cert(name, key, "test CA", ca_key, ca=False, san=name)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "server.pem")
    return tmp_path / "ca.pem", server


def test_https_send_checks_the_certificate_and_sni_on_the_name_not_the_address(ctx, tmp_path, monkeypatch,
                                                                               no_lookup_of_the_name):
    ca, server_tls = _certificates(tmp_path, NAME)
    seen = Seen()
    server_tls.sni_callback = lambda sock, name, context: seen.sni.append(name)
    monkeypatch.setattr(webhooks, "tls_context", lambda: ssl.create_default_context(cafile=str(ca)))
    httpd = _server(seen, server_tls)
    port = httpd.server_address[1]
    try:
        assert webhooks.http_send(f"https://{NAME}:{port}/hook", b"{}", {}, "127.0.0.1") == 204
        # The same address under another name: its certificate does not name it, refused.
        with pytest.raises(ssl.SSLCertVerificationError):
            webhooks.http_send(f"https://other.agency.example:{port}/hook", b"{}", {}, "127.0.0.1")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert seen.sni[0] == NAME
    assert [(path, host) for path, host, _, _ in seen.requests] == [("/hook", f"{NAME}:{port}")]


def test_https_send_trusts_the_systems_certificates_by_default(ctx):
    context = webhooks.tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
