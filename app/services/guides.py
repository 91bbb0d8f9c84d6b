"""Service guides (Art. 18): published by each agency for itself, read by anyone, free of charge.

* The **issuing agency** announces the card's service items (服务事项), scope of use (使用范围) and method of use
  (使用方法) (Art. 18); all three are required.
* Each **application agency** (Art. 33) publishes what it offers with the card, the conditions, the procedure
  and the time limit (REQUIREMENTS.md, Art. 18); all four are required.
* Only that agency's own staff publish its guide: an issuing-agency clerk (``agency_clerk``) the issuing
  agency's, an application agency's staff (``app_agency``) their agency's. The Bureau supervises (Art. 5) and
  reads them like everyone else; nobody edits another agency's guide.
* Publishing never overwrites: it adds version N+1 (the highest version is in force) and an audit entry
  naming the fields that changed. Reading is public and costs nothing (Art. 18 免费提供服务指引).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Agency, ServiceGuide
from app.models.enums import AgencyKind, Role
from app.services import audit, clock
from app.services.actor import Actor
from app.services.errors import ChannelNotAllowed, InvalidInput, NotFound, OutOfScope

ARTICLE = "Art. 18"

CONTENT = ("title", "service_items", "scope", "usage", "conditions", "procedure", "time_limit", "contact")
# What each kind of agency must publish (Art. 18; REQUIREMENTS.md Art. 18 for application agencies).
REQUIRED: dict[AgencyKind, tuple[str, ...]] = {
    AgencyKind.ISSUING: ("title", "service_items", "scope", "usage"),
    AgencyKind.APPLICATION: ("title", "service_items", "conditions", "procedure", "time_limit"),
}
# Who publishes the guide of each kind of agency: its own staff.
EDITOR_ROLE: dict[AgencyKind, Role] = {AgencyKind.ISSUING: Role.AGENCY_CLERK, AgencyKind.APPLICATION: Role.APP_AGENCY}
EDITORS = tuple(EDITOR_ROLE.values())
LIMITS = {"title": 120, "time_limit": 200, "contact": 200}
TEXT_LIMIT = 5000


@dataclass(frozen=True)
class GuideView:
    agency: Agency
    guide: ServiceGuide | None  # None: the agency has published nothing yet


def _agency(session: Session, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None or agency.kind not in REQUIRED:
        raise NotFound("No issuing or application agency {agency_id}.", params={"agency_id": agency_id})
    return agency


def current(session: Session, agency_id: int) -> ServiceGuide | None:
    return session.scalars(select(ServiceGuide).where(ServiceGuide.agency_id == agency_id)
                           .order_by(ServiceGuide.version.desc()).limit(1)).first()


def published(session: Session) -> list[GuideView]:
    """Every agency's guide in force, the issuing agency first, then application agencies by code."""
    latest = (select(ServiceGuide.agency_id, func.max(ServiceGuide.version).label("v"))
              .group_by(ServiceGuide.agency_id).subquery())
    rows = session.execute(
        select(Agency, ServiceGuide)
        .join(latest, latest.c.agency_id == Agency.id)
        .join(ServiceGuide, (ServiceGuide.agency_id == Agency.id) & (ServiceGuide.version == latest.c.v))
        .where(Agency.kind.in_(list(REQUIRED)))
    ).all()
    order = {AgencyKind.ISSUING: 0, AgencyKind.APPLICATION: 1}
    return [GuideView(a, g) for a, g in sorted(rows, key=lambda r: (order[r[0].kind], r[0].code))]


def guide_of(session: Session, agency_id: int) -> GuideView:
    return GuideView(_agency(session, agency_id), current(session, agency_id))


def history(session: Session, agency_id: int) -> list[ServiceGuide]:
    _agency(session, agency_id)
    return list(session.scalars(select(ServiceGuide).where(ServiceGuide.agency_id == agency_id)
                                .order_by(ServiceGuide.version.desc())))


def may_edit(actor: Actor, agency: Agency) -> bool:
    return EDITOR_ROLE.get(agency.kind) is actor.role and actor.agency_id == agency.id


def _clean(content: dict) -> dict:
    out = {}
    for key in CONTENT:
        value = content.get(key)
        value = value.strip() if isinstance(value, str) else None
        if value:
            limit = LIMITS.get(key, TEXT_LIMIT)
            if len(value) > limit:
                raise InvalidInput("At most {limit} characters.", params={"limit": limit}, field=key)
        out[key] = value or None
    return out


def publish(session: Session, actor: Actor, agency_id: int, content: dict) -> ServiceGuide:
    """Publish a new version of an agency's guide; only that agency's own staff may (Art. 18)."""
    agency = _agency(session, agency_id)
    if actor.role not in EDITORS:
        raise ChannelNotAllowed("Service guides are published by the issuing agency and the application "
                                "agencies, each its own.", article=ARTICLE)
    if not may_edit(actor, agency):
        raise OutOfScope("Each agency publishes its own service guide only.", article=ARTICLE)
    data = _clean(content)
    for key in REQUIRED[agency.kind]:
        if not data[key]:
            raise InvalidInput("The guide of this agency must state this.", field=key, article=ARTICLE)
    # Lock the agency row: two editors publishing at once get versions N+1 and N+2, never two N+1.
    session.get(Agency, agency.id, with_for_update=True)
    before = current(session, agency.id)
    changed = [k for k in CONTENT if (getattr(before, k) if before else None) != data[k]]
    if before is not None and not changed:
        raise InvalidInput("Nothing changed since the version in force.", field="service_items")
    guide = ServiceGuide(agency_id=agency.id, version=(before.version if before else 0) + 1,
                         published_at=clock.now(), published_by=actor.user_id, **data)
    session.add(guide)
    session.flush()
    audit.record(session, actor, "guide.publish", subject=f"guide:{agency.code}:v{guide.version}",
                 purpose="service guide (Art. 18)", changes={"changed": changed, "version": guide.version})
    return guide
