/* Corrections to the markup Dash's own components render, for WCAG 2.1 AA (Dash 4.4: none of these
   components takes ARIA props, so the page cannot pass them). Each correction keeps the component's own
   keyboard handling; tests/browser/test_keyboard.py operates every kind by keyboard after it.

   - RadioItems, Checklist and a Dropdown's open list render native radios and checkboxes inside
     role="option" labels of a role="listbox": controls nested in interactive roles, and a listbox with no name.
     Native inputs need no ARIA: the option roles go, the list becomes a radiogroup / group named by
     the <label for=...> that the page gives it (or by the fieldset's legend around it).
   - Dropdown puts a focusable <input aria-hidden="true"> before its button (a Safari work-around that
     forwards focus). The button itself becomes the tab stop (an explicit tabindex="0" is tabbable in
     Safari too) and the stand-in is made inert; the button is also named by the page's <label for>.
   - DatePickerRange puts aria-expanded on a plain <div> and labels it by ids that do not exist
     ("undefined"): it becomes a named group, which may carry aria-expanded.
   - DataTable's page buttons are icons without a name.
   React sets some of these attributes again when a component re-renders (aria-selected, a tabindex the
   dropdown restores on blur), so the corrections run again whenever the page changes.

   It also carries the keyboard behaviour the pages need beyond native controls: skip links that move
   focus without changing the address, Enter/Space on map markers and clusters, and focus moved into the
   map's details panel when the keyboard opens it (and back when Escape closes it). */
(function () {
    var PAGE_BUTTONS = {"first-page": "First page", "previous-page": "Previous page",
                        "next-page": "Next page", "last-page": "Last page"};

    function labelFor(id) {
        if (!id) { return null; }
        var label = document.querySelector('label[for="' + (window.CSS && CSS.escape ? CSS.escape(id) : id) + '"]');
        if (label && !label.id) { label.id = id + "--label"; }
        return label;
    }

    function setAttr(el, name, value) {
        if (el.getAttribute(name) !== value) { el.setAttribute(name, value); }
    }

    function optionLists(root) {
        root.querySelectorAll(".dash-options-list").forEach(function (list) {
                var radio = list.classList.contains("dash-radioitems") ||
                            !!list.querySelector('input[type="radio"]');
                setAttr(list, "role", radio ? "radiogroup" : "group");
                var label = labelFor(list.id);
                var dialog = !label && list.closest('[role="dialog"]');
                // A dropdown's open list is named as its button is (the trigger points at the popover).
                var trigger = dialog && dialog.id &&
                    document.querySelector('[aria-controls="' + dialog.id + '"][aria-labelledby]');
                if (label) { setAttr(list, "aria-labelledby", label.id); }
                else if (trigger) { setAttr(list, "aria-labelledby", trigger.getAttribute("aria-labelledby")); }
                list.querySelectorAll('label[role="option"], label[aria-selected]').forEach(function (option) {
                    option.removeAttribute("role");
                    option.removeAttribute("aria-selected");
                });
            });
    }

    function dropdowns(root) {
        root.querySelectorAll(".dash-dropdown-focus-target").forEach(function (standIn) {
            if (!standIn.inert) { standIn.inert = true; }
            setAttr(standIn, "tabindex", "-1");
            var button = standIn.nextElementSibling;
            if (!button || !button.classList.contains("dash-dropdown")) { return; }
            if (!button.disabled) { setAttr(button, "tabindex", "0"); }
            var label = labelFor(button.id);
            var named = button.getAttribute("aria-labelledby") || "";
            if (label && named.split(" ").indexOf(label.id) === -1) {
                button.setAttribute("aria-labelledby", (label.id + " " + named).trim());
            }
        });
    }

    function datePickers(root) {
        root.querySelectorAll(".dash-datepicker-input-wrapper").forEach(function (wrapper) {
            setAttr(wrapper, "role", "group");
            var ids = (wrapper.getAttribute("aria-labelledby") || "").split(/\s+/).filter(function (id) {
                return id && id !== "undefined" && document.getElementById(id);
            });
            var first = wrapper.querySelector("input");
            var label = first && labelFor(first.id);
            if (label && ids.indexOf(label.id) === -1) { ids.unshift(label.id); }
            if (ids.length) { setAttr(wrapper, "aria-labelledby", ids.join(" ")); }
            else { wrapper.removeAttribute("aria-labelledby"); }
        });
    }

    function tablePages(root) {
        root.querySelectorAll(".previous-next-container button").forEach(function (button) {
            Object.keys(PAGE_BUTTONS).forEach(function (cls) {
                if (button.classList.contains(cls)) { setAttr(button, "aria-label", PAGE_BUTTONS[cls]); }
            });
        });
        root.querySelectorAll(".previous-next-container input.current-page").forEach(function (input) {
            setAttr(input, "aria-label", "Page number");
        });
    }

    function correct() {
        optionLists(document);
        dropdowns(document);
        datePickers(document);
        tablePages(document);
    }

    var pending = false;
    function schedule() {
        if (pending) { return; }
        pending = true;
        // Once per frame at most: the map adds and removes many markers while it moves.
        window.requestAnimationFrame(function () { pending = false; correct(); focusPanelWhenReady(); restoreFocus(); });
    }

    /* The map's details panel opens beside the map, far from the table row or marker that opened it in
       the tab order: when a keyboard user opens it, focus moves to its title; Escape or its close button
       closes it and focus goes back to what opened it (found again by its row when the table redrew). */
    var opener = null;
    var awaiting = null;

    function panelBody() { return document.getElementById("map-details-body"); }

    function rememberOpener(target) {
        var row = target.closest("tr");
        opener = {el: target, rowId: row && row.id};
        var body = panelBody();
        awaiting = {before: body && body.firstElementChild, until: Date.now() + 15000};
    }

    function focusPanelWhenReady() {
        if (!awaiting) { return; }
        var details = document.getElementById("map-details");
        var body = panelBody();
        if (Date.now() > awaiting.until || !details) { awaiting = null; return; }
        if (details.hidden || !body || !body.firstElementChild || body.firstElementChild === awaiting.before) { return; }
        var title = document.getElementById("panel-title");
        var target = title || details;
        target.setAttribute("tabindex", "-1");
        target.focus();
        awaiting = null;
    }

    var restoring = null;

    function returnFocus() {
        if (!opener) { return; }
        restoring = {el: opener.el, rowId: opener.rowId, until: Date.now() + 5000};
        opener = null;
        restoreFocus();
    }

    function restoreFocus() {
        // The table redraws once the panel has closed (it marks the open district): focus follows the row.
        if (!restoring) { return; }
        if (Date.now() > restoring.until) { restoring = null; return; }
        var active = document.activeElement;
        if (active && active !== document.body && document.body.contains(active) &&
            !(active.closest && active.closest("#map-details"))) { return; }
        var el = restoring.el;
        if (!document.body.contains(el) && restoring.rowId) {
            var row = document.getElementById(restoring.rowId);
            el = row && row.querySelector(".dt-open");
        }
        if (el && document.body.contains(el)) { el.focus(); }
    }

    /* Skip links move focus without changing the address: a new #fragment makes Dash build the page
       again, which would take the focus the link just gave. */
    document.addEventListener("click", function (e) {
        var link = e.target && e.target.closest && e.target.closest("a.skip-link, a[data-skip]");
        if (!link) { return; }
        var target = document.getElementById((link.getAttribute("href") || "").replace(/^#/, ""));
        if (!target) { return; }
        e.preventDefault();
        if (!target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
        target.focus();
        target.scrollIntoView({block: "nearest"});
    }, true);

    document.addEventListener("mousedown", function () { restoring = null; }, true);
    document.addEventListener("keydown", function (e) {
        var t = e.target;
        restoring = null;
        if (!t || !t.closest) { return; }
        var marker = t.closest(".leaflet-container .leaflet-marker-icon.leaflet-interactive");
        if ((e.key === "Enter" || e.key === " ") && marker) {
            // Leaflet turns Enter on a marker into a click without a position, which the map's layers
            // (dash-leaflet) ignore: click the marker where it is drawn instead, as the mouse does.
            e.preventDefault();
            e.stopPropagation();
            if (marker.closest("#map")) { rememberOpener(marker); }
            var r = marker.getBoundingClientRect();
            var at = {bubbles: true, cancelable: true, view: window, button: 0,
                      clientX: r.left + r.width / 2, clientY: r.top + r.height / 2};
            marker.dispatchEvent(new MouseEvent("mousedown", at));
            marker.dispatchEvent(new MouseEvent("mouseup", at));
            marker.dispatchEvent(new MouseEvent("click", at));
        } else if ((e.key === "Enter" || e.key === " ") && t.closest(".dt-open")) {
            rememberOpener(t);
        } else if (e.key === "Escape" && t.closest("#map-details")) {
            var close = document.getElementById("map-details-close");
            if (close) { e.preventDefault(); close.click(); }
        }
    }, true);
    document.addEventListener("click", function (e) {
        if (e.target && e.target.closest && e.target.closest("#map-details-close")) {
            window.setTimeout(returnFocus, 0);
        }
    });

    function start() {
        correct();
        new MutationObserver(schedule).observe(document.body, {
            childList: true, subtree: true, attributes: true,
            attributeFilter: ["aria-selected", "role", "tabindex", "aria-labelledby"]
        });
    }

    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
    else { start(); }
    window.atlasA11y = {correct: correct};
})();
