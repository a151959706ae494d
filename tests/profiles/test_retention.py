"""Raw-event retention: each merchant's setting (730 days without one) decides which events go; only events
older than the cutoff and only that merchant's; deleted in batches; the setting is validated and audited."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditLog
from accounts.services import Actor
from profiles.models import Event, ProfileSettings
from profiles.privacy import apply_event_retention, profile_settings_get, profile_settings_update
from profiles.tasks import apply_event_retention_task
from tests.factories import CustomerFactory, EventFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("retention-test")


def events_aged(customer, *days_ago) -> list[Event]:
    now = timezone.now()
    return [EventFactory(customer=customer, occurred_at=now - timedelta(days=d)) for d in days_ago]


def test_each_merchant_keeps_its_own_window(merchant, other_merchant):
    ProfileSettings.objects.create(merchant=merchant, event_retention_days=30)
    mine = CustomerFactory(merchant=merchant)
    theirs = CustomerFactory(merchant=other_merchant)  # no settings: the 730-day default
    old_mine = events_aged(mine, 31, 45, 400)
    kept_mine = events_aged(mine, 1, 29)
    anonymous_old = Event.objects.create(
        merchant=merchant, session_id="s-1", type="view", occurred_at=timezone.now() - timedelta(days=60)
    )
    kept_theirs = events_aged(theirs, 45, 400, 729)
    old_theirs = events_aged(theirs, 731, 1000)

    assert apply_event_retention() == len(old_mine) + 1 + len(old_theirs)

    assert set(Event.objects.values_list("pk", flat=True)) == {e.pk for e in kept_mine + kept_theirs}
    assert not Event.objects.filter(pk=anonymous_old.pk).exists()
    entry = AuditLog.objects.get(merchant=merchant, action="events.retention")
    assert entry.changes["deleted"] == 4 and entry.changes["retention_days"] == 30
    assert AuditLog.objects.get(merchant=other_merchant, action="events.retention").changes["deleted"] == 2


def test_deletes_in_batches_until_none_is_left(merchant):
    ProfileSettings.objects.create(merchant=merchant, event_retention_days=30)
    customer = CustomerFactory(merchant=merchant)
    events_aged(customer, *range(31, 38))
    kept = events_aged(customer, 2)

    assert apply_event_retention(batch_size=3) == 7
    assert list(Event.objects.values_list("pk", flat=True)) == [kept[0].pk]
    assert apply_event_retention(batch_size=3) == 0  # a second run finds nothing
    assert AuditLog.objects.filter(action="events.retention").count() == 1


def test_the_beat_task_runs_it(merchant):
    customer = CustomerFactory(merchant=merchant)
    events_aged(customer, 800, 3)
    assert apply_event_retention_task.apply().get() == 1
    assert Event.objects.count() == 1


def test_setting_is_validated_and_audited(merchant):
    assert profile_settings_get(merchant=merchant).event_retention_days == 730
    assert not ProfileSettings.objects.exists()  # reading the default stores nothing
    for bad in (0, 29, 3651):
        with pytest.raises(ValueError, match="between 30 and 3650"):
            profile_settings_update(merchant=merchant, actor=ACTOR, event_retention_days=bad)
    settings_row = profile_settings_update(merchant=merchant, actor=ACTOR, event_retention_days=90)
    assert settings_row.event_retention_days == 90
    assert profile_settings_get(merchant=merchant).event_retention_days == 90
    profile_settings_update(merchant=merchant, actor=ACTOR, event_retention_days=90)  # unchanged: no entry
    [entry] = AuditLog.objects.filter(merchant=merchant, action="profiles.retention")
    assert entry.changes == {"event_retention_days": [730, 90]}
