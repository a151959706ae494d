"""The server-side SVG charts: well-formed SVG with a title and a description that says the values, values and
labels as text, bar lengths relative to the largest value, gridlines at round numbers, zero and empty data
handled, and no markup injected through labels."""

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from profiles.charts import Bar, bar_chart, number_text, time_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    # Inline SVG in HTML carries no namespace; add it so the markup parses as the XML it also is.
    return ET.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def texts(root: ET.Element, cls: str) -> list[str]:
    return [el.text for el in root.iter(f"{SVG}text") if cls in el.get("class", "").split()]


def test_bar_chart_is_labelled_and_prints_its_values():
    svg = bar_chart(
        [Bar("Shirts", 0.6, "60%"), Bar("Shoes", 0.3, "30%"), Bar("Hats", 0.1, "10%")],
        title="Categories",
        description="Share of interactions.",
        chart_id="cats",
    )
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "cats-title" and root.get("aria-describedby") == "cats-desc"
    assert root.find(f"{SVG}title").text == "Categories"
    assert root.find(f"{SVG}desc").text == "Share of interactions. Shirts: 60%; Shoes: 30%; Hats: 10%."
    assert texts(root, "chart-label") == ["Shirts", "Shoes", "Hats"]
    assert texts(root, "chart-value") == ["60%", "30%", "10%"]
    widths = [el.get("width") for el in root.iter(f"{SVG}rect") if el.get("class") == "chart-bar"]
    # Relative to the largest: 0.6 fills the row.
    assert widths == ["100.00%", "50.00%", "16.67%"]
    assert root.get("width") == "100%" and root.get("viewBox") is None
    assert int(root.get("height")) == 3 * 36
    # Each row says its value as a tooltip too.
    titles = [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g") if g.get("class") == "chart-bar-row"]
    assert titles == ["Shirts: 60%", "Shoes: 30%", "Hats: 10%"]


def test_bar_chart_numbers_default_to_the_value_and_limit_keeps_the_first_bars():
    root = parse(bar_chart([("Champions", 1200), ("Loyal", 35), ("At risk", 7)], title="Segments", limit=2))
    assert texts(root, "chart-value") == ["1,200", "35"]
    assert len(texts(root, "chart-label")) == 2


def test_bar_chart_with_links_is_a_group_of_labelled_links():
    root = parse(bar_chart([Bar("Loyal", 5, href="/customers/?segment=loyal&x=1")], title="Segments"))
    assert root.get("role") == "group"
    link = root.find(f"{SVG}a")
    assert link.get("href") == "/customers/?segment=loyal&x=1"
    assert link.get("aria-label") == "Loyal: 5"


def test_zero_and_empty_bar_data_give_the_empty_text():
    for bars in ([], [("Shirts", 0)]):
        html = str(bar_chart(bars, title="Categories", empty_text="No categories yet."))
        assert "<svg" not in html
        assert html == '<p class="chart-empty" data-chart-empty>No categories yet.</p>'


def test_a_tiny_value_still_shows_and_a_zero_does_not():
    root = parse(bar_chart([("Big", 1000), ("Tiny", 1), ("None", 0)], title="t"))
    widths = [el.get("width") for el in root.iter(f"{SVG}rect") if el.get("class") == "chart-bar"]
    assert widths == ["100.00%", "0.75%", "0.00%"]


def test_labels_are_escaped_and_long_ones_shortened():
    long_label = "A very long category name that goes on and on"
    root = parse(bar_chart([('<script>alert("x")</script>', 2), (long_label, 1)], title="<b>t</b>"))
    assert texts(root, "chart-label")[0] == '<script>alert("x")</script>'  # text, not an element
    assert root.find(f"{SVG}script") is None
    assert root.find(f"{SVG}title").text == "<b>t</b>"
    shortened = texts(root, "chart-label")[1]
    assert shortened.endswith("…") and len(shortened) <= 32
    assert long_label in root.find(f"{SVG}desc").text  # the description keeps it whole


def days(values, start=date(2026, 3, 1)):
    return [(start + timedelta(days=i), v) for i, v in enumerate(values)]


def test_column_chart_draws_one_column_per_day_scaled_to_a_round_maximum():
    points = days([0, 3, 7, 1])
    root = parse(time_chart(points, title="Events per day", chart_id="ev", height=160))
    columns = [el for el in root.iter(f"{SVG}rect") if el.get("class") == "chart-column"]
    assert [c.get("data-day") for c in columns] == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    assert [c.get("data-value") for c in columns] == ["0", "3", "7", "1"]
    # Plot height is 160 - 18 - 24 = 118 px for a maximum of 10 (7 rounds up to 10).
    heights = [float(c.get("height")) for c in columns]
    assert heights == [0.0, pytest.approx(35.4), pytest.approx(82.6), pytest.approx(11.8)]
    assert [c.get("x") for c in columns] == ["3.750%", "28.750%", "53.750%", "78.750%"]
    assert texts(root, "chart-tick")[:2] == ["10", "5"]
    desc = root.find(f"{SVG}desc").text
    assert desc == (
        "11 events over 4 days, Sun 1 Mar 2026 to Wed 4 Mar 2026. The most, 7, on Tue 3 Mar 2026. 1 day with none."
    )
    tooltips = [
        el.find(f"{SVG}title").text for el in root.iter(f"{SVG}rect") if el.find(f"{SVG}title") is not None
    ]
    assert tooltips == [
        "Sun 1 Mar 2026: 0 events",
        "Mon 2 Mar 2026: 3 events",
        "Tue 3 Mar 2026: 7 events",
        "Wed 4 Mar 2026: 1 event",
    ]


def test_thirty_days_get_five_date_labels_first_and_last_included():
    points = days(range(30))
    root = parse(time_chart(points, title="t"))
    labels = [el.text for el in root.iter(f"{SVG}text") if el.get("y") == str(160 - 24 + 16)]
    assert labels[0] == "1 Mar" and labels[-1] == "30 Mar" and len(labels) == 5


def test_all_zero_days_draw_the_axis_and_say_so():
    root = parse(time_chart(days([0] * 30), title="Events per day", units=("event", "events")))
    assert all(
        float(c.get("height")) == 0 for c in root.iter(f"{SVG}rect") if c.get("class") == "chart-column"
    )
    assert root.find(f"{SVG}desc").text == "No events in these 30 days."
    assert texts(root, "chart-none") == ["No events in these 30 days."]
    assert texts(root, "chart-tick")[:2] == ["1", "0.5"]


def test_no_points_give_the_empty_text():
    assert str(time_chart([], title="t", empty_text="Nothing yet.")) == (
        '<p class="chart-empty" data-chart-empty>Nothing yet.</p>'
    )


def test_weekly_line_chart():
    points = [(date(2026, 1, 5) + timedelta(weeks=i), v) for i, v in enumerate([2, 0, 5])]
    root = parse(time_chart(points, title="Per week", period="week", kind="line", chart_id="wk"))
    assert root.get("data-chart") == "line"
    line = next(el for el in root.iter(f"{SVG}polyline"))
    assert line.get("data-count") == "3"
    ys = [float(pair.split(",")[1]) for pair in line.get("points").split()]
    assert ys[1] == max(ys) and ys[2] == 0.0  # zero at the bottom, the peak (5 = the maximum) at the top
    assert "The most, 5, in the week of 19 Jan 2026." in root.find(f"{SVG}desc").text


def test_chart_ids_are_stable_and_differ_with_the_data():
    one = parse(time_chart(days([1, 2]), title="t")).get("aria-labelledby")
    assert one == parse(time_chart(days([1, 2]), title="t")).get("aria-labelledby")
    assert one != parse(time_chart(days([2, 1]), title="t")).get("aria-labelledby")


@pytest.mark.parametrize(
    ("value", "text"), [(1234, "1,234"), (12.5, "12.5"), (0.126, "0.13"), (0, "0"), (2.50, "2.5")]
)
def test_number_text(value, text):
    assert number_text(value) == text
