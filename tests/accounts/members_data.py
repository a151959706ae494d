"""Plain helpers shared by the Members tests (tests/accounts/test_members.py, test_invitations.py)."""

import re

from accounts.models import Membership, Role
from accounts.services import Actor, member_invite

BASE_URL = "https://app.example.com"
LINK = re.compile(r"https?://\S+/invitations/(?P<token>[\w-]+)/")


def invite(merchant, owner, email="new@example.com", role=Role.EDITOR):
    return member_invite(
        merchant=merchant, email=email, role=role, actor=Actor.for_user(owner), base_url=BASE_URL
    )


def token_in(mail) -> str:
    return LINK.search(mail.body).group("token")


def membership_of(user, merchant):
    return Membership.objects.get(user=user, merchant=merchant)
