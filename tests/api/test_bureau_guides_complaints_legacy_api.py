"""The API of service guides (Art. 18), complaints (Art. 29), legacy certificates (Art. 34, 36) and the
Bureau's bank administration (Art. 6 ¶2): who may call what, problem+json on bad input with nothing written,
and the public parts without a token."""
from __future__ import annotations

from tests.api.conftest import assert_problem, row_counts

GUIDE = {"title": "社会保障卡服务指南", "service_items": "申领、挂失、补卡", "scope": "全市公共服务",
         "usage": "到网点办理或使用电子社保卡"}
COMPLAINT = {"kind": "complaint", "complainant_type": "natural_person", "complainant_name": "李四光",
             "complainant_phone": "13912345678", "party_kind": "bank", "summary": "网点拒绝受理补卡申请，没有说明理由。"}
OLD = {"kind": "social_insurance_card", "number": "GZ12345678", "issuer": "广州市社保中心", "issued_on": "2015-06-01"}


def test_guides_are_read_without_sign_in_and_published_by_the_agency_itself_art18(client, db, world, auth):
    sscc = world.agencies["SSCC"].id
    world.session.commit()
    assert client.get(f"/api/guides/{sscc}").get_json()["guide"] is None
    assert_problem(client.post(f"/api/guides/{sscc}", json=GUIDE), 401)
    assert_problem(client.post(f"/api/guides/{sscc}", json=GUIDE, headers=auth(world, "bureau")), 403)
    assert_problem(client.post(f"/api/guides/{sscc}", json=GUIDE, headers=auth(world, "medical")), 403)
    before = row_counts(db)
    body = assert_problem(client.post(f"/api/guides/{sscc}", json={**GUIDE, "scope": ""},
                                      headers=auth(world, "clerk")), 422, article="Art. 18")
    assert body["field"] == "scope" and row_counts(db) == before
    resp = client.post(f"/api/guides/{sscc}", json=GUIDE, headers=auth(world, "clerk"))
    assert resp.status_code == 201 and resp.get_json()["version"] == 1
    listed = client.get("/api/guides/")
    assert listed.status_code == 200 and "public" in listed.headers["Cache-Control"]
    assert [(g["agency_code"], g["guide"]["scope"]) for g in listed.get_json()] == [("SSCC", "全市公共服务")]
    assert [v["version"] for v in client.get(f"/api/guides/{sscc}/versions").get_json()] == [1]


def test_complaint_filed_without_sign_in_is_followed_by_reference_and_code_art29(client, db, world):
    world.session.commit()
    body = {**COMPLAINT, "party_bank_id": world.banks[0].id}
    resp = client.post("/api/complaints", json=body)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    filed = resp.get_json()
    assert filed["authority"] == "bureau" and filed["status"] == "received" and len(filed["code"]) == 10
    follow = client.post("/api/complaints/follow", json={"reference": filed["reference"], "code": filed["code"]})
    assert follow.status_code == 200
    seen = follow.get_json()
    assert seen["status"] == "received" and seen["party_name"] == world.banks[0].name
    assert [s["step"] for s in seen["steps"]] == ["file"]
    text = follow.get_data(as_text=True)
    assert "李四光" not in text and "13912345678" not in text  # the follow-up carries no personal data
    wrong = assert_problem(client.post("/api/complaints/follow", json={"reference": filed["reference"],
                                                                       "code": "AAAAAAAAAA"}), 404)
    unknown = assert_problem(client.post("/api/complaints/follow", json={"reference": "TS-1999-000009",
                                                                         "code": filed["code"]}), 404)
    assert wrong["detail"] == unknown["detail"]


def test_bad_complaint_input_is_a_problem_beside_the_field_and_writes_nothing_art29(client, db, world):
    world.session.commit()
    before = row_counts(db)
    body = assert_problem(client.post("/api/complaints", json={**COMPLAINT, "anonymous": True,
                                                                "party_bank_id": world.banks[0].id}), 422)
    assert body["field"] == "anonymous" and body["article"] == "Art. 29"
    assert assert_problem(client.post("/api/complaints", json=COMPLAINT), 422)["field"] == "party_bank_id"
    assert_problem(client.post("/api/complaints", json={**COMPLAINT, "kind": "grumble"}), 422)
    assert row_counts(db) == before


def test_the_hotline_records_a_call_and_the_bureau_handles_it_masked_art29_16(client, db, world, auth):
    body = {**COMPLAINT, "party_kind": "application", "party_agency_id": world.agencies["MED"].id}
    assert_problem(client.post("/api/complaints/hotline", json=body, headers=auth(world, "clerk")), 403)
    resp = client.post("/api/complaints/hotline", json=body, headers=auth(world, "hotline"))
    assert resp.status_code == 201
    bureau = auth(world, "bureau")
    listed = client.get("/api/complaints", headers=bureau).get_json()
    assert len(listed) == 1 and listed[0]["channel"] == "hotline"
    assert listed[0]["complainant_name"] == "李*光" and listed[0]["complainant_phone"] == "139****5678"
    cid, version = listed[0]["id"], listed[0]["version"]
    for who in ("hotline", "clerk", "auditor", "teller"):
        assert_problem(client.get("/api/complaints", headers=auth(world, who)), 403)
    uid = world.staff["bureau"].id
    assert [h["id"] for h in client.get("/api/complaints/handlers", headers=bureau).get_json()] == [uid]
    r = client.post(f"/api/complaints/{cid}/assignment", json={"assignee_id": uid, "version": version},
                    headers=bureau)
    assert r.status_code == 200 and r.get_json()["status"] == "assigned"
    assert_problem(client.post(f"/api/complaints/{cid}/investigation", json={"note": "start", "version": version},
                               headers=bureau), 412)
    assert_problem(client.post(f"/api/complaints/{cid}/closure", json={"outcome": "upheld", "reply": "已处理"},
                               headers=bureau), 409, article="Art. 29")
    assert client.post(f"/api/complaints/{cid}/investigation", json={"note": "调取记录"},
                       headers=bureau).status_code == 200
    closed = client.post(f"/api/complaints/{cid}/closure", json={"outcome": "partly_upheld", "reply": "已责令整改"},
                         headers=bureau)
    assert closed.get_json()["status"] == "closed"
    detail = client.get(f"/api/complaints/{cid}", headers=bureau).get_json()
    assert [s["step"] for s in detail["steps"]] == ["file", "assign", "investigate", "close"]


def test_legacy_certificate_after_2022_02_01_is_refused_without_legal_basis_art34_36(client, db, world, auth):
    person = world.person()
    clerk = auth(world, "clerk")
    url = f"/api/persons/{person.id}/legacy-certificates"
    assert_problem(client.post(url, json=OLD, headers=auth(world, "teller")), 403)
    before = row_counts(db)
    body = assert_problem(client.post(url, json={**OLD, "issued_on": "2023-03-01"}, headers=clerk), 409,
                          article="Art. 34, 36")
    assert body["field"] == "legal_basis" and row_counts(db) == before
    resp = client.post(url, json=OLD, headers=clerk)
    assert resp.status_code == 201 and resp.get_json()["number"] != "GZ12345678"
    listed = client.get(url, headers=auth(world, "bureau")).get_json()
    assert [c["kind"] for c in listed] == ["social_insurance_card"] and "GZ12345678" not in str(listed)
    found = client.post("/api/persons/legacy-certificates/lookup", json={"kind": OLD["kind"], "number": OLD["number"]},
                        headers=clerk)
    assert found.get_json() == {"person_id": person.id}


def test_the_bureau_unpublishes_a_bank_and_the_public_list_follows_art6(client, db, world, auth):
    icbc = world.banks[0]
    world.session.commit()
    assert_problem(client.put(f"/api/bureau/banks/{icbc.id}", json={"code": icbc.code, "name": icbc.name,
                                                                     "published": False},
                              headers=auth(world, "clerk")), 403)
    resp = client.put(f"/api/bureau/banks/{icbc.id}", json={"code": icbc.code, "name": icbc.name, "published": False},
                      headers=auth(world, "bureau"))
    assert resp.status_code == 200
    assert icbc.code not in {b["code"] for b in client.get("/api/banks/").get_json()}
    before = row_counts(db)
    body = assert_problem(client.post("/api/bureau/banks", json={"code": "CCB-GZ", "name": "x"},
                                      headers=auth(world, "bureau")), 422)
    assert body["field"] == "code" and row_counts(db) == before
    staff = client.get("/api/staff?role=bank_teller", headers=auth(world, "bureau")).get_json()
    assert {s["username"] for s in staff} == {"teller", "teller_yx", "teller_ccb"}
