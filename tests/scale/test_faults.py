"""Faults survived (issue 18): PostgreSQL unreachable during requests, a key file unreadable at start.

The database is cut by a TCP proxy of the test's own between the app and the shared PostgreSQL (which other
people use: it is never stopped), so the app sees exactly what a stopped server or a lost network gives.
"""
from __future__ import annotations

import json
import socket
import threading

import pytest
from sqlalchemy.engine import make_url

from tests.scale.conftest import kept_data_keys, scale_app


class Proxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL; ``cut()`` closes every connection and refuses new ones."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.server.listen(64)
        self.up = True
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        self.up = False
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.conns.clear()

    def restore(self):
        self.up = True

    def close(self):
        self.cut()
        self.server.close()


@pytest.fixture
def proxied(seeded, tmp_path):
    """An app on the seeded schema whose every database connection goes through a Proxy."""
    from app.extensions import db

    app, _ = seeded
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    cut_app = scale_app(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
                        app.config["INSTANCE_DIR"])
    yield cut_app, proxy
    proxy.close()
    with cut_app.app_context():
        db.engine.dispose()


def _bearer(app, username):
    from app.auth import tokens
    from app.extensions import db
    from app.models import StaffUser

    with app.test_request_context():
        minted = tokens.issue_staff(db.session.scalars(db.select(StaffUser).filter_by(username=username)).one())
        db.session.commit()
    return {"Authorization": f"Bearer {minted['access_token']}"}


def test_database_unreachable_is_a_503_problem_nothing_half_written_and_recovery_without_restart(proxied, seeded):
    from app.extensions import db
    from app.models import AuditHead, Card, StaffUser

    app, proxy = proxied
    client = app.test_client()
    with app.app_context():
        tellers = {u.bank_id: u.username for u in db.session.scalars(
            db.select(StaffUser).where(StaffUser.role == "bank_teller"))}
        card = db.session.scalars(db.select(Card).where(Card.status == "active", Card.bank_id.in_(tellers))
                                  .order_by(Card.id.desc())).first()
        card_id, teller = card.id, tellers[card.bank_id]
        head_before = db.session.get(AuditHead, 1).seq
        db.session.remove()
    headers = _bearer(app, teller)
    assert client.get(f"/api/cards/{card_id}", headers=headers).status_code == 200  # pool warmed

    proxy.cut()
    for call in (lambda: client.get(f"/api/cards/{card_id}", headers=headers),
                 lambda: client.post(f"/api/cards/{card_id}/loss-registration", json={"id_verified": True},
                                     headers={**headers, "If-Match": f'"{card_id}.1"'})):
        resp = call()
        assert resp.status_code == 503, resp.get_data(as_text=True)
        assert resp.mimetype == "application/problem+json"
        body = json.loads(resp.get_data(as_text=True))
        assert body["type"].endswith("database-unavailable") and body["status"] == 503
        assert resp.headers["Retry-After"]

    proxy.restore()  # PostgreSQL is back: the same app serves again, and the refused write left nothing
    resp = client.get(f"/api/cards/{card_id}", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert json.loads(resp.get_data(as_text=True))["status"] == "active"
    app2, _ = seeded
    with app2.app_context():
        assert db.session.get(Card, card_id).status == "active"
        assert db.session.get(AuditHead, 1).seq == head_before + 2  # the two successful reads only
        db.session.remove()


@pytest.mark.parametrize("damage", ["not json", "world-readable"])
def test_unreadable_data_key_file_refuses_to_start_with_a_clear_message(tmp_path, damage):
    from app.privacy import KeyRingError

    key_file = tmp_path / "privacy-keys.json"
    if damage == "not json":
        key_file.write_text("{ this is not a key file")
        key_file.chmod(0o600)
    else:
        key_file.write_text('{"version": 1, "active": "k1", "data_keys": {"k1": "AAAA"}, "blind_index_key": "AAAA"}')
        key_file.chmod(0o644)
    with pytest.raises(KeyRingError) as refused:
        scale_app(f"sqlite:///{tmp_path / 'x.sqlite3'}", tmp_path)
    assert str(key_file) in str(refused.value) or "key file" in str(refused.value)


def test_rate_limit_storage_down_fails_closed_for_login_and_open_for_reads(seeded, tmp_path):
    """Redis (the rate-limit counters) unreachable: login is refused with 503 (tries cannot be counted), a
    read is served; neither is a 500."""
    from app.extensions import db

    instance = seeded[0].config["INSTANCE_DIR"]  # the same keys: the cipher is process-wide

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    app = scale_app(f"sqlite:///{tmp_path / 'x.sqlite3'}", instance, RATELIMIT_ENABLED=True,
                    RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}/0")
    with app.app_context():
        db.create_all()
    client = app.test_client()
    resp = client.post("/api/auth/login", json={"username": "sscc.clerk1", "password": "whatever"})
    assert resp.status_code == 503 and resp.mimetype == "application/problem+json"
    assert json.loads(resp.get_data(as_text=True))["type"].endswith("rate-limit-unavailable")
    assert client.get("/api/banks/").status_code == 200


def _half_done_loss(app, card_id, teller_id, ready):
    """In a worker process: register a loss through the service, flush it, and hang before the commit."""
    import time

    from app.extensions import db
    from app.models import StaffUser
    from app.models.enums import Channel, Role
    from app.services import lifecycle
    from app.services.actor import Actor

    with app.app_context():
        db.engine.dispose(close=False)  # the parent's pooled connections are not ours
        u = db.session.get(StaffUser, teller_id)
        actor = Actor(role=Role.BANK_TELLER, channel=Channel.OUTLET, user_id=u.id, bank_id=u.bank_id,
                      outlet_id=u.outlet_id)
        lifecycle.register_loss(db.session, actor, card_id, id_verified=True)
        db.session.flush()  # the row is changed and locked in the open transaction
        ready.set()
        time.sleep(60)


def test_worker_killed_mid_request_rolls_the_transaction_back(seeded):
    """SIGKILL of a worker between its writes and its commit: PostgreSQL rolls the transaction back when the
    connection drops; the card is as before and its locks are released (the next operation proceeds)."""
    import multiprocessing as mp
    import os
    import signal

    from app.extensions import db
    from app.models import Card, StaffUser

    app, _ = seeded
    with app.app_context():
        tellers = {u.bank_id: u.id for u in db.session.scalars(
            db.select(StaffUser).where(StaffUser.role == "bank_teller"))}
        card = db.session.scalars(db.select(Card).where(Card.status == "active", Card.bank_id.in_(tellers))
                                  .order_by(Card.id.desc()).offset(1)).first()
        card_id, teller_id, person_id = card.id, tellers[card.bank_id], card.person_id
        db.session.remove()
        db.engine.dispose()
    ready = mp.get_context("fork").Event()
    worker = mp.get_context("fork").Process(target=_half_done_loss, args=(app, card_id, teller_id, ready))
    worker.start()
    assert ready.wait(60), "the worker never reached its uncommitted write"
    os.kill(worker.pid, signal.SIGKILL)
    worker.join(10)
    with app.app_context():
        db.session.execute(db.text("SET lock_timeout = '10s'"))
        db.session.execute(db.text("SELECT 1 FROM persons WHERE id = :p FOR UPDATE"), {"p": person_id})
        assert db.session.get(Card, card_id).status == "active"
        db.session.rollback()
        db.session.remove()


@pytest.fixture
def own_data_keys():
    with kept_data_keys():
        yield


@pytest.mark.parametrize("damage", ["missing", "unreadable", "not a key"])
def test_unloadable_ecard_signing_key_refuses_to_start_with_a_clear_message(tmp_path, damage, own_data_keys):
    """Art. 35: an app that cannot sign e-cards must not start and fail on every issuance later."""
    import os

    keys = {"ECARD_KEY_DIR": tmp_path / "ecard-keys"}
    instance = tmp_path
    scale_app(f"sqlite:///{tmp_path / 'x.sqlite3'}", instance, **keys)  # first start: a key generated
    (pem,) = list((tmp_path / "ecard-keys").glob("*.pem"))
    if damage == "missing":
        pem.unlink()
    elif damage == "unreadable":
        if os.geteuid() == 0:
            pem.write_bytes(b"")  # root reads any file: an empty one stands for what it cannot use
        else:
            pem.chmod(0)
    else:
        pem.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(RuntimeError) as refused:
        scale_app(f"sqlite:///{tmp_path / 'x.sqlite3'}", instance, **keys)
    assert "e-card signing key" in str(refused.value) and str(tmp_path / "ecard-keys") in str(refused.value)
