/* The map reports its bounds several times while it settles (fitting the city, then rounding): the
   server is asked again only when the view changed by more than a sliver (2% of its span) or the zoom
   changed, so one user action is one data request. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    atlasMap: {
        viewport: function (bounds, zoom, previous) {
            var nu = window.dash_clientside.no_update;
            if (zoom === null || zoom === undefined) { return nu; }
            var next = {bounds: bounds || null, zoom: zoom};
            if (!bounds) {  // a view opened at a centre and zoom: the server boxes the centre until bounds come
                return (previous && previous.zoom === zoom) ? nu : next;
            }
            if (!previous || previous.zoom !== zoom || !previous.bounds) { return next; }
            var p = previous.bounds;
            var latSpan = Math.abs(bounds[1][0] - bounds[0][0]) || 1e-9;
            var lonSpan = Math.abs(bounds[1][1] - bounds[0][1]) || 1e-9;
            var moved = Math.abs(bounds[0][0] - p[0][0]) / latSpan > 0.02 ||
                        Math.abs(bounds[1][0] - p[1][0]) / latSpan > 0.02 ||
                        Math.abs(bounds[0][1] - p[0][1]) / lonSpan > 0.02 ||
                        Math.abs(bounds[1][1] - p[1][1]) / lonSpan > 0.02;
            return moved ? next : nu;
        }
    }
});
