/* Functions the map layers call (dash-leaflet function props refer to them as atlas.<name>). */
window.atlas = Object.assign({}, window.atlas, {
    outlineStyle: function (feature) {
        return {color: "#1a202c", weight: 2, opacity: 0.8, fillColor: "#e2e8f0", fillOpacity: 0.25,
                dashArray: feature.properties.approximate ? "6 4" : null};
    },
    outlineTooltip: function (feature, layer) {
        var p = feature.properties;
        var text = p.name + (p.approximate ? " (approximate boundary)" : "");
        if (p.population) { text += "<br>Population " + p.population.toLocaleString(); }
        layer.bindTooltip(text, {sticky: true});
    },
    labelMarker: function (feature, latlng) {
        return L.marker(latlng, {
            icon: L.divIcon({className: "district-label", html: feature.properties.name, iconSize: null}),
            interactive: false, keyboard: false
        });
    },
    recoveryMarker: function (feature, latlng, context) {
        var p = feature.properties;
        var colors = context.hideout.colors;
        var key = p.source_in_state === true ? "in_state" : (p.source_in_state === false ? "out_of_state" : "unknown");
        var marker = L.circleMarker(latlng, {radius: 6, color: "#fff", weight: 1, fillColor: colors[key], fillOpacity: 0.9});
        marker.bindTooltip(
            "<b>Gun recovered " + p.date + "</b><br>" + (p.firearm_type || "firearm") + " " + (p.caliber || "") +
            (p.manufacturer ? " · " + p.manufacturer : "") +
            "<br>Time to crime: " + (p.ttc_band || "unknown") +
            "<br>First sold in: " + (p.source_state || "unknown") +
            (p.district ? "<br>" + p.district + " district" : ""));
        return marker;
    },
    alertMarker: function (feature, latlng, context) {
        var p = feature.properties;
        var color = context.hideout.colors[p.alert_type] || "#4a5568";
        // Squares for alerts, circles for recoveries: shape tells layers apart without colour.
        var marker = L.marker(latlng, {icon: L.divIcon({className: "alert-icon",
            html: '<span style="background:' + color + '"></span>', iconSize: [12, 12]})});
        marker.bindTooltip("<b>ShotSpotter " + p.time + "</b><br>" + p.alert_type.replace(/_/g, " ").toLowerCase() +
            (p.rounds ? " · " + p.rounds + " rounds" : "") + (p.corroborated ? "<br>Matches a reported shooting" : ""));
        return marker;
    },
    clusterIcon: function (feature, latlng, index, context) {
        var n = feature.properties.point_count;
        var size = n < 10 ? 28 : (n < 100 ? 34 : 42);
        var cls = "cluster " + (context.hideout && context.hideout.clusterClass || "");
        return L.marker(latlng, {icon: L.divIcon({html: "<span>" + n + "</span>", className: cls,
                                                  iconSize: L.point(size, size)})});
    }
});
