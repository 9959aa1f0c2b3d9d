/* The map reports its bounds several times while it settles (fitting the city, then rounding): the
   server is asked again only when the view changed by more than a sliver (2% of its span) or the zoom
   changed, so one user action is one data request.

   A view opened at a centre and zoom (before the map has measured itself) is asked for as a box around
   the centre big enough for a large screen (2000 x 1200 px, as the server's _bbox); when the bounds
   then arrive inside that box, the data already drawn covers them and nothing is asked again. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    atlasMap: {
        _centreBox: function (center, zoom) {
            var lat = Array.isArray(center) ? center[0] : center && center.lat;
            var lng = Array.isArray(center) ? center[1] : center && center.lng;
            if (lat === undefined || lat === null || lng === undefined || lng === null) { return null; }
            var mpp = 156543.03392 * Math.cos(lat * Math.PI / 180) / Math.pow(2, zoom);
            var halfW = 1000 * mpp / (111320 * Math.cos(lat * Math.PI / 180));
            var halfH = 600 * mpp / 110574;
            return [[lat - halfH, lng - halfW], [lat + halfH, lng + halfW]];
        },
        /* Reports closer together than SETTLE_MS are one movement (the map fitting the city right after it
           opens reports a first view, then the fitted one): only the last of them is considered. */
        SETTLE_MS: 100,
        _seq: 0,
        viewport: function (bounds, zoom, center, previous) {
            var self = window.dash_clientside.atlasMap, seq = ++self._seq;
            return new Promise(function (resolve) {
                setTimeout(function () {
                    resolve(seq === self._seq ? self._decide(bounds, zoom, center, previous)
                                              : window.dash_clientside.no_update);
                }, self.SETTLE_MS);
            });
        },
        /* The map's centre and zoom once it has stopped moving (for the address bar): one report per
           movement, like the viewport, whatever the number of steps the map took. */
        _movedSeq: 0,
        settled: function (center, zoom) {
            var self = window.dash_clientside.atlasMap, seq = ++self._movedSeq;
            return new Promise(function (resolve) {
                setTimeout(function () {
                    resolve(seq === self._movedSeq ? {center: center, zoom: zoom} : window.dash_clientside.no_update);
                }, self.SETTLE_MS);
            });
        },
        _decide: function (bounds, zoom, center, previous) {
            var nu = window.dash_clientside.no_update;
            if (zoom === null || zoom === undefined) { return nu; }
            var next = {bounds: bounds || null, zoom: zoom};
            if (!bounds) {  // the server boxes the centre until bounds come
                if (previous && previous.zoom === zoom) { return nu; }
                next.box = window.dash_clientside.atlasMap._centreBox(center, zoom);
                return next;
            }
            if (previous && previous.zoom === zoom && !previous.bounds && previous.box) {
                var b = previous.box;
                var inside = bounds[0][0] >= b[0][0] && bounds[0][1] >= b[0][1] &&
                             bounds[1][0] <= b[1][0] && bounds[1][1] <= b[1][1];
                return inside ? nu : next;
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
