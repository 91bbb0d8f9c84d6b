"""The Bureau's records (Art. 5, 6 ¶2, 16): it publishes the cooperating banks and their outlets, administers
staff accounts, searches the audit trail; every change audited."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.models import AuditEntry, Bank
from app.models.enums import Role
from app.services import audit, bureau, clock
from app.services.errors import ChannelNotAllowed, InvalidInput, NotFound


def test_only_the_bureau_publishes_banks_and_outlets_art6(session, world):
    for name in ("clerk", "teller", "auditor", "hotline", "medical"):
        with pytest.raises(ChannelNotAllowed):
            bureau.save_bank(session, world.actor(name), None, bureau.BankIn("ABC-GZ", "农业银行"))
    bank = bureau.save_bank(session, world.actor("bureau"), None, bureau.BankIn("abc-gz", "农业银行广州分行"))
    assert bank.code == "ABC-GZ" and bank.published
    outlet = bureau.save_outlet(session, world.actor("bureau"), bank.id, None,
                                bureau.OutletIn("ABC-PY-01", "番禺网点", "番禺区", "市桥大道1号", instant=True))
    assert outlet.instant and [o.code for o in bureau.banks(session)[0].outlets] == ["ABC-PY-01"]


def test_unpublishing_a_bank_is_audited_with_old_and_new_values_art6(session, world):
    icbc = world.banks[0]
    bureau.save_bank(session, world.actor("bureau"), icbc.id, bureau.BankIn(icbc.code, icbc.name, published=False))
    assert session.get(Bank, icbc.id).published is False
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "bank.update")).one()
    assert entry.record["changes"] == {"published": [True, False]}


def test_bank_and_outlet_input_is_checked_art6(session, world):
    b = world.actor("bureau")
    with pytest.raises(InvalidInput) as e:
        bureau.save_bank(session, b, None, bureau.BankIn("CCB-GZ", "重复"))  # taken
    assert e.value.extra["field"] == "code"
    with pytest.raises(InvalidInput) as e:
        bureau.save_bank(session, b, None, bureau.BankIn("X", "太短的代码"))
    assert e.value.extra["field"] == "code"
    with pytest.raises(InvalidInput) as e:
        bureau.save_outlet(session, b, world.banks[0].id, None, bureau.OutletIn("ICBC-NEW", "新网点", "", "地址"))
    assert e.value.extra["field"] == "district"
    with pytest.raises(NotFound):  # an outlet of another bank
        bureau.save_outlet(session, b, world.banks[1].id, world.outlets[0].id,
                           bureau.OutletIn("ICBC-TH-01", "x", "天河区", "y"))


def test_staff_accounts_list_roles_and_organisations_for_the_bureau_only_art16(session, world):
    rows = bureau.staff_accounts(session, world.actor("bureau"), role=Role.BANK_TELLER)
    assert {r.user.username for r in rows} == {"teller", "teller_yx", "teller_ccb"}
    assert any(r.organisation and "天河" in r.organisation for r in rows)
    with pytest.raises(ChannelNotAllowed):
        bureau.staff_accounts(session, world.clerk)


def test_audit_search_filters_and_records_the_search_art16(session, world):
    person = world.person()
    b = world.actor("bureau")
    entries, total = audit.search(session, b, {"person_id": person.id})
    assert total == len(entries) >= 1 and all(e.person_id == person.id for e in entries)
    entries, _ = audit.search(session, b, {"action_prefix": "person."})
    assert entries and all(e.action.startswith("person.") for e in entries)
    assert audit.search(session, b, {"since": clock.now() + timedelta(days=1)}) == ([], 0)
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert last.action == "read.audit" and last.actor_id == world.staff["bureau"].id
    assert audit.verify(session).ok
