"""Who is doing an operation, through which channel, from which organisation."""
from __future__ import annotations

from dataclasses import dataclass

from app.models.enums import Channel, Role


@dataclass(frozen=True)
class Actor:
    role: Role
    channel: Channel
    user_id: int | None = None  # staff user
    person_id: int | None = None  # resident: the cardholder themself
    bank_id: int | None = None
    outlet_id: int | None = None
    agency_id: int | None = None
    request_id: str | None = None
    client_ip: str | None = None
    credential_id: int | None = None  # an application agency's machine credential (app.services.agency_api)

    def via(self, channel: Channel) -> Actor:
        """The same actor through another channel (a teller taking a bank-hotline call)."""
        return Actor(**{**self.__dict__, "channel": channel})


SYSTEM = Actor(role=Role.SYSTEM, channel=Channel.GOV_FEED)
