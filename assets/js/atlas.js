/* Functions the map layers call (dash-leaflet function props refer to them as atlas.<name>).
   Styling reads `context.hideout`, so colours, classes and the selected district change without
   sending the data again. Every colour has a shape or a text twin (legend, tooltip, summary table). */
window.atlas = Object.assign({}, window.atlas, {
    stateFeature: function (feature, layer) {
        // State outlines are a national-scale backdrop; at city zoom their 1:10M coastline is wrong.
        layer.once("add", function () {
            var map = layer._map;
            if (!map || map._atlasStates) { return; }
            map._atlasStates = true;
            var update = function () {
                var pane = map.getPane("base-states");
                if (pane) { pane.style.display = map.getZoom() >= 10 ? "none" : ""; }
            };
            map.on("zoomend", update);
            update();
        });
    },
    _esc: function (s) {
        return String(s === null || s === undefined ? "" : s).replace(/[&<>"]/g, function (c) {
            return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c];
        });
    },
    _classOf: function (value, breaks) {
        if (value === null || value === undefined || !breaks) { return -1; }
        for (var i = 0; i < breaks.length; i++) { if (value <= breaks[i]) { return i; } }
        return breaks.length - 1;
    },
    outlineStyle: function (feature, context) {
        var h = (context && context.hideout) || {};
        var p = feature.properties;
        var style = {color: "#1a202c", weight: (p.kind && p.kind !== "district") ? 1 : 2, opacity: 0.8, fillColor: "#e2e8f0", fillOpacity: 0.15,
                     dashArray: p.approximate ? "6 4" : null};
        if (h.values) {
            var k = window.atlas._classOf(h.values[p.name], h.breaks);
            if (k >= 0) { style.fillColor = h.colors[k]; style.fillOpacity = 0.6; }
        }
        if (h.selected && h.selected === p.name) { style.weight = 4; style.color = "#000"; style.dashArray = null; }
        return style;
    },
    outlineTooltip: function (feature, layer) {
        var p = feature.properties, A = window.atlas;
        var kind = p.kind || "district";
        var text = (kind === "district" ? "" : (kind === "post" ? "Post " : "Neighborhood: ")) + A._esc(p.name) +
                   (p.approximate ? " (approximate boundary)" : "");
        if (p.population) { text += "<br>Population " + p.population.toLocaleString(); }
        text += kind === "district" ? "<br><i>Click for the district panel</i>" : "<br><i>Click for its counts</i>";
        layer.bindTooltip(text, {sticky: true});
    },
    labelMarker: function (feature, latlng) {
        var marker = L.marker(latlng, {
            icon: L.divIcon({className: "district-label", html: window.atlas._esc(feature.properties.name),
                             iconSize: null}),
            // Above the points: a commander must always see which district is which.
            interactive: false, keyboard: false, pane: "tooltipPane"
        });
        return window.atlas._declutterOn(marker);
    },
    /* Labels never overlap: after every zoom, move or new set of labels, each label is measured on screen
       and shown only where it does not touch one already shown, in order of importance (district names
       first at city zoom; below zoom 9 the city is a few pixels wide and its district names are left out;
       then source states by number of guns). Whatever is left out is named in the ranked list beside the
       map and in each line's tooltip. */
    _declutterOn: function (marker) {
        marker.once("add", function () {
            var map = marker._map;
            if (!map || map._atlasDeclutter) { window.atlas._declutterSoon(map); return; }
            map._atlasDeclutter = true;
            map.on("zoomend moveend viewreset layeradd resize", function () { window.atlas._declutterSoon(map); });
            window.atlas._declutterSoon(map);
        });
        return marker;
    },
    _declutterSoon: function (map) {
        if (!map || map._atlasDeclutterPending) { return; }
        map._atlasDeclutterPending = true;
        window.requestAnimationFrame(function () {
            map._atlasDeclutterPending = false;
            window.atlas.declutter(map);
        });
    },
    declutter: function (map) {
        var container = map.getContainer();
        var zoom = map.getZoom();
        var labels = Array.prototype.slice.call(container.querySelectorAll(".district-label, .flow-label"));
        var weight = function (el) {
            if (el.classList.contains("district-label")) { return zoom >= 9 ? Infinity : -Infinity; }
            var n = parseInt(String(el.textContent).replace(/[^0-9]/g, ""), 10);
            return isNaN(n) ? 0 : n;
        };
        labels.sort(function (a, b) { return weight(b) - weight(a); });
        var placed = [], shown = 0, pad = 2;
        labels.forEach(function (el) {
            if (weight(el) === -Infinity) { el.style.visibility = "hidden"; el.dataset.declutter = "hidden"; return; }
            var r = el.getBoundingClientRect();
            var clash = r.width > 0 && placed.some(function (p) {
                return r.left - pad < p.right && p.left < r.right + pad && r.top - pad < p.bottom && p.top < r.bottom + pad;
            });
            el.style.visibility = clash ? "hidden" : "";
            el.dataset.declutter = clash ? "hidden" : "shown";
            if (!clash) { placed.push(r); shown += 1; }
        });
        container.dataset.labelsShown = String(shown);
        container.dataset.labelsHidden = String(labels.length - shown);
    },
    _pointColor: function (p, h) {
        var by = h.colorBy || "kind";
        if (h.layer === "recoveries") {
            if (by === "source") {
                return h.colors.source[p.source_in_state === true ? "in_state" :
                                       (p.source_in_state === false ? "out_of_state" : "unknown")];
            }
            if (by === "ttc") { return h.colors.ttc[p.ttc_band || "unknown"] || "#718096"; }
            return h.colors.kind[p.kind] || h.colors.kind.OTHER || "#718096";
        }
        return h.colors.kind[p.kind] || "#4a5568";
    },
    pointMarker: function (feature, latlng, context) {
        var h = context.hideout, p = feature.properties, A = window.atlas;
        var stacked = p.stack && p.stack > 1;
        var color = A._pointColor(p, h);
        var size = 12;
        if (h.layer === "alerts" && p.rounds) { size = Math.min(20, 10 + 2 * Math.sqrt(p.rounds)); }
        var html = '<span class="pt-shape" style="background:' + color + ';width:' + size + 'px;height:' + size + 'px"></span>';
        if (stacked) { html += '<b class="stack-badge">' + p.stack + '</b>'; }
        var marker = L.marker(latlng, {
            icon: L.divIcon({className: "pt pt-" + h.layer + (stacked ? " pt-stacked" : ""), html: html,
                             iconSize: [size + 2, size + 2]}),
            keyboard: true, title: (stacked ? p.stack + " at this place" : (p.kind || "") + " " + (p.time || ""))
        });
        var tip;
        if (stacked) {
            tip = "<b>" + p.stack + " " + A._esc(h.label) + " at this place</b><br>latest " + A._esc(p.time) +
                  "<br><i>Click to list them</i>";
        } else {
            tip = "<b>" + A._esc(h.label) + "</b><br>" + A._esc(p.time) + "<br>" +
                  A._esc(String(p.kind || "").replace(/_/g, " ").toLowerCase());
            if (p.rounds) { tip += " · " + p.rounds + " rounds"; }
            if (h.layer === "recoveries") {
                tip += "<br>Time to crime: " + A._esc(p.ttc_band || "unknown") + "<br>First sold " +
                       (p.source_in_state === true ? "in state" : (p.source_in_state === false ? "out of state" : "— unknown"));
            }
            tip += "<br><i>Click for details</i>";
        }
        marker.bindTooltip(tip);
        return marker;
    },
    clusterIcon: function (feature, latlng, index, context) {
        var n = feature.properties.point_count;
        var size = n < 10 ? 28 : (n < 100 ? 34 : 42);
        var cls = "cluster " + (context.hideout && context.hideout.clusterClass || "");
        var marker = L.marker(latlng, {icon: L.divIcon({html: "<span>" + n + "</span>", className: cls,
                                                        iconSize: L.point(size, size)}),
                                       title: n + " points: click to list them", keyboard: true});
        return marker;
    },
    cellStyle: function (feature, context) {
        var h = context.hideout;
        var k = window.atlas._classOf(feature.properties.n, h.breaks);
        return {color: "#fff", weight: 0.5, fillColor: k >= 0 ? h.colors[k] : "#ccc", fillOpacity: 0.72};
    },
    cellTooltip: function (feature, layer, context) {
        layer.bindTooltip(feature.properties.n + " in this cell — click for details");
    },
    dealerMarker: function (feature, latlng, context) {
        var h = context.hideout, p = feature.properties, A = window.atlas;
        var r = 3 + 17 * Math.sqrt(p.guns / Math.max(1, h.maxGuns || 1));
        var m = L.circleMarker(latlng, {radius: r, weight: p.in_state ? 1 : 2, color: "#1a202c",
                                        dashArray: p.in_state ? null : "3 2",
                                        fillColor: p.in_state ? h.colors.in_state : h.colors.out_of_state,
                                        fillOpacity: 0.65});
        m.bindTooltip("<b>" + A._esc(p.name) + "</b><br>" + A._esc(p.city) + ", " + A._esc(p.state) + "<br>" +
                      p.guns + " traced gun" + (p.guns === 1 ? "" : "s") + " recovered (" + p.under_1y +
                      " under 1 year)<br>" + (p.in_state ? "in state" : "out of state") +
                      (p.precision === "zip" ? "<br><i>placed at its ZIP centre</i>" : ""));
        return m;
    },
    flowStyle: function (feature, context) {
        var h = context.hideout, p = feature.properties;
        var w = 1 + 11 * Math.sqrt(p.guns / Math.max(1, h.maxGuns || 1));
        return {color: p.in_state ? h.colors.in_state : h.colors.out_of_state, weight: w, opacity: 0.65,
                dashArray: p.in_state ? null : "8 4"};
    },
    flowLabel: function (feature, latlng) {
        return window.atlas._declutterOn(L.marker(latlng, {
            icon: L.divIcon({className: "flow-label", html: window.atlas._esc(feature.properties.name), iconSize: null}),
            interactive: false, keyboard: false
        }));
    },
    flowTooltip: function (feature, layer) {
        var p = feature.properties;
        layer.bindTooltip(p.state + " → city: " + p.guns + " gun" + (p.guns === 1 ? "" : "s"), {sticky: true});
    }
});
