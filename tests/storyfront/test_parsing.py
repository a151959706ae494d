import pytest

from storyfront.parsing import parse_bool


@pytest.mark.parametrize("value", [True, 1, "1", "yes", " YES ", "y", "true", "On"])
def test_yes_words(value):
    assert parse_bool(value) is True


@pytest.mark.parametrize("value", [False, 0, "0", "no", "N", "false", "off"])
def test_no_words(value):
    assert parse_bool(value) is False


def test_a_callers_own_words():
    assert parse_bool("Published", true_words=("published",)) is True
    assert parse_bool("draft", false_words=("draft",)) is False


def test_blank_gives_the_default_or_an_error():
    assert parse_bool("  ", blank=False) is False
    assert parse_bool(None, blank=True) is True
    with pytest.raises(ValueError, match="empty"):
        parse_bool("")


@pytest.mark.parametrize("value", ["maybe", 2, "published", [], 0.5])
def test_anything_else_is_a_clear_error(value):
    with pytest.raises(ValueError, match="use true or false"):
        parse_bool(value)
