"""`make a11y`: the accessibility audit on its own. The tests live with the browser tests (and run in
`make test`): tests/browser/test_accessibility.py (axe-core on every page, as each role) and
tests/browser/test_keyboard.py (the skip link, the district panel, a cluster list and the network's node
list, reached and used with the keyboard only)."""

from tests.browser.test_accessibility import (  # noqa: F401
    test_a11y001_every_page_as_an_admin,
    test_a11y002_public_pages_as_press_and_commander,
)
from tests.browser.test_keyboard import (  # noqa: F401
    test_kbd001_skip_link_and_district_panel_from_the_table,
    test_kbd002_cluster_list_by_keyboard,
    test_kbd003_network_node_list_by_keyboard,
    test_kbd004_dropdown_date_range_and_radio_buttons_by_keyboard,
)
