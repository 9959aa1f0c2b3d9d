"""The trafficking index on the record pages and the sources page, in Chromium on the session's synthetic
city: a person's and a dealer's score with its contributions and the rows behind them, an analyst's
review saved from the page (who, when, audited) and from the index page for the row it explains, two
periods compared on /sources, and the review verdict named for screen readers. Press and commander never get a score."""

from __future__ import annotations

import time

import pytest

from tests.browser.conftest import sign_in_as

pytestmark = pytest.mark.browser


def _wait_text(dash_duo, selector: str, text: str, timeout: float = 20) -> None:
    dash_duo.wait_for_contains_text(selector, text, timeout=timeout)


def test_person_page_shows_the_score_and_saves_a_review(dash_duo, synth_app, synth_sql):
    from layers.index import weights

    person, score = synth_sql("SELECT person_id, score FROM index.purchaser_score WHERE rank = 1")[0]
    dash_duo.start_server(synth_app, navigate=False)
    user = sign_in_as(dash_duo, "analyst", path=f"/person/{person}")
    _wait_text(dash_duo, "#index-panel-score", f"Score {score:.2f}")
    assert f"rank 1 · weights {weights.VERSION}" in dash_duo.find_element("#index-panel-score").text
    # Each contribution says what it found and links to the rows behind it (the guns' journeys).
    items = dash_duo.find_elements("#index-panel .ixp-contribution")
    assert items and all("+" in i.text for i in items)
    links = [a.get_attribute("href") for a in dash_duo.find_elements("#index-panel .ixp-contribution a")]
    assert any("/firearm/" in h for h in links) and all("/firearm/" in h or "/dealer/" in h for h in links)
    assert "Not reviewed yet" in dash_duo.find_element("#ixp-reviews").text
    try:
        # The verdict's radio group is named by its label (for screen readers).
        group = dash_duo.find_element("#ixp-verdict")
        deadline = time.time() + 5
        while not group.get_attribute("aria-labelledby") and time.time() < deadline:
            time.sleep(0.2)
        label = dash_duo.find_element(f"#{group.get_attribute('aria-labelledby')}")
        assert label.text == "Verdict"
        dash_duo.find_element("#ixp-verdict input[value='rejected']").click()
        dash_duo.find_element("#ixp-note").send_keys("Buyer's sales checked: collector, guns sold on legally")
        dash_duo.find_element("#ixp-save").click()
        _wait_text(dash_duo, "#ixp-result", f"Saved: rejected by {user}")
        _wait_text(dash_duo, "#ixp-reviews", "collector, guns sold on legally")
        assert f"by {user} (analyst)" in dash_duo.find_element("#ixp-reviews").text
        saved = synth_sql("SELECT verdict, username, role FROM index.review WHERE kind = 'purchaser' AND entity_id = %s",
                          (person,))
        assert saved == [("rejected", user, "analyst")]
        audited = synth_sql("SELECT count(*) FROM audit.event WHERE username = %s AND event = 'review lead' "
                            "AND detail->>'verdict' = 'rejected'", (user,))[0][0]
        assert audited == 1
        # An empty note is refused with a clear message, nothing saved.
        dash_duo.clear_input(dash_duo.find_element("#ixp-note"))
        dash_duo.find_element("#ixp-save").click()
        _wait_text(dash_duo, "#ixp-result", "Not saved: say why in a note")
        assert synth_sql("SELECT count(*) FROM index.review WHERE username = %s", (user,))[0][0] == 1
    finally:
        synth_sql("DELETE FROM index.review WHERE username = %s RETURNING id", (user,))


def test_dealer_page_shows_the_score_against_peers(dash_duo, synth_app, synth_sql):
    dealer, score, rank = synth_sql("SELECT dealer_id, score, rank FROM index.dealer_score WHERE rank = 1")[0]
    dash_duo.start_server(synth_app, navigate=False)
    sign_in_as(dash_duo, "detective", path=f"/dealer/{dealer}")
    _wait_text(dash_duo, "#index-panel-score", f"Score {score:.2f}, rank {rank}")
    text = dash_duo.find_element("#index-panel").text
    assert "+" in text and "Analysts' reviews" in text
    hrefs = [a.get_attribute("href") for a in dash_duo.find_elements("#index-panel .ixp-contribution a")]
    assert hrefs and all("/firearm/" in h or "/person/" in h for h in hrefs)
    assert dash_duo.find_element("#index-panel-score a").get_attribute("href").endswith("/index?level=dealer")


@pytest.mark.parametrize("role", ["press", "commander"])
def test_press_and_commander_get_no_score(dash_duo, synth_app, synth_sql, role):
    from dashboard.components.index_panel import score_panel
    from layers import access, index

    dealer = synth_sql("SELECT dealer_id FROM index.dealer_score WHERE rank = 1")[0][0]
    viewer = access.Viewer("t", role)
    assert score_panel("dealer", dealer, viewer) is None  # the component itself refuses
    with pytest.raises(access.Denied):
        index.explain("dealer", dealer, viewer)
    dash_duo.start_server(synth_app, navigate=False)
    sign_in_as(dash_duo, role, path=f"/dealer/{dealer}")
    time.sleep(2)
    assert not dash_duo.find_elements("#index-panel") and not dash_duo.find_elements("#dealer-page")


def test_sources_compares_two_periods(dash_duo, synth_app, synth_sql):
    by_state = dict(synth_sql("SELECT state, sum(traces) FROM index.state_year WHERE year = 2025 GROUP BY state"))
    top = max(by_state, key=lambda s: by_state[s])
    dash_duo.start_server(synth_app, navigate=False)
    sign_in_as(dash_duo, "analyst", path="/sources")
    _wait_text(dash_duo, "#sources-compare-table", "Rank 2025")
    head = [th.text for th in dash_duo.find_elements("#sources-compare-table th")]
    assert head[:3] == ["State", "Rank 2024", "Traces 2024"] and "Rank change" in head
    first = [td.text for td in dash_duo.find_elements("#sources-compare-table tbody tr:first-child td")]
    assert first[0] == top and first[5] == "1" and first[6] == f"{by_state[top]:,}"
    assert dash_duo.find_element("#sources-flows")  # the flows over time stay above the comparison


def test_index_review_verdict_is_named(dash_duo, synth_app):
    """axe: the verdict's radio group on /index has an accessible name (its label)."""
    dash_duo.start_server(synth_app, navigate=False)
    sign_in_as(dash_duo, "analyst", path="/index")
    group = dash_duo.wait_for_element("#index-review #ixp-verdict", timeout=20)
    deadline = time.time() + 5
    while not group.get_attribute("aria-labelledby") and time.time() < deadline:
        time.sleep(0.2)
    assert group.get_attribute("role") == "radiogroup"
    assert dash_duo.find_element(f"#{group.get_attribute('aria-labelledby')}").text == "Verdict"


def test_index_page_saves_a_review_of_the_row_explained(dash_duo, synth_app, synth_sql):
    """/index uses the record pages' review form: it saves for the row being explained (audited as on a record
    page) and lists the row's reviews again; before a row is chosen it asks for one."""
    dealer = synth_sql("SELECT dealer_id FROM index.dealer_score WHERE rank = 1")[0][0]
    dash_duo.start_server(synth_app, navigate=False)
    user = sign_in_as(dash_duo, "analyst", path="/index?level=dealer")
    dash_duo.wait_for_element("#index-dealer-table", timeout=20)
    try:
        dash_duo.find_element("#ixp-save").click()
        _wait_text(dash_duo, "#ixp-result", "Choose a purchaser, dealer or gun by its id first")
        box = dash_duo.find_element("#index-explain-id")
        box.send_keys(str(dealer))
        box.send_keys("\n")
        _wait_text(dash_duo, "#index-explanation", "rank 1")
        assert "Not reviewed yet" in dash_duo.find_element("#index-explanation #ixp-reviews").text
        audited = "SELECT count(*) FROM audit.event WHERE username = %s AND event = 'review lead'"
        before = synth_sql(audited, (user,))[0][0]
        dash_duo.find_element("#ixp-verdict input[value='confirmed']").click()
        dash_duo.find_element("#ixp-note").send_keys("Repeat buyers checked against the dealer's records")
        dash_duo.find_element("#ixp-save").click()
        _wait_text(dash_duo, "#ixp-result", f"Saved: confirmed by {user}")
        _wait_text(dash_duo, "#index-explanation #ixp-reviews", "Repeat buyers checked")
        assert synth_sql("SELECT verdict, username FROM index.review WHERE kind = 'dealer' AND entity_id = %s",
                         (dealer,)) == [("confirmed", user)]
        assert synth_sql(audited, (user,))[0][0] == before + 1
    finally:
        synth_sql("DELETE FROM index.review WHERE username = %s RETURNING id", (user,))
