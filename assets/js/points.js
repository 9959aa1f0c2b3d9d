/* The map's point layers arrive packed as columns (layers/viewport.py `pack`: about a fifth of the bytes of
   the same GeoJSON) and are turned back here into the FeatureCollection the points layer draws, the same
   features the server built: places sorted by id, ids and times as differences from the previous place,
   coordinates as integer steps from the south-west corner, text properties as indexes into their values,
   yes/no as 1/0, a stacked place's ids relative to its first. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    atlasPoints: {
        _time: function (n, unit) {
            if (n === null || n === undefined) { return null; }
            var iso = new Date(n * (unit === "d" ? 86400000 : 60000)).toISOString();
            return unit === "d" ? iso.slice(0, 10) : iso.slice(0, 10) + " " + iso.slice(11, 16);
        },
        _value: function (column, i) {
            if (Array.isArray(column)) { return column[i]; }
            if (column.b) { return column.b[i] === null ? null : column.b[i] === 1; }
            var k = column.i[i];
            return k < 0 ? null : column.d[k];
        },
        decode: function (p) {
            var features = [];
            if (!p || !p.n) { return {type: "FeatureCollection", features: features}; }
            var self = window.dash_clientside.atlasPoints, names = Object.keys(p.c || {});
            var id = 0, t = 0;
            for (var i = 0; i < p.n; i++) {
                id += p.id[i];
                var time = null;
                if (p.t[i] !== null) { t += p.t[i]; time = self._time(t, p.tu); }
                var props;
                var stacked = p.ids[String(i)];
                if (stacked) {
                    var kind = p.c && p.c.kind ? self._value(p.c.kind, i) : null;
                    props = {stack: stacked.length, ids: stacked.map(function (d) { return id + d; }), time: time,
                             kind: kind === undefined ? null : kind};
                } else {
                    props = {id: id, stack: 1};
                    if (time !== null) { props.time = time; }
                    for (var j = 0; j < names.length; j++) {
                        var v = self._value(p.c[names[j]], i);
                        if (v !== null && v !== undefined) { props[names[j]] = v; }
                    }
                }
                features.push({type: "Feature", properties: props,
                               geometry: {type: "Point", coordinates: [(p.x0 + p.x[i]) / p.q, (p.y0 + p.y[i]) / p.q]}});
            }
            return {type: "FeatureCollection", features: features};
        },
        /* One callback for the three layers: they change together, on one viewport answer. */
        unpack: function () {
            var self = window.dash_clientside.atlasPoints;
            return Array.prototype.map.call(arguments, function (p) { return self.decode(p); });
        }
    }
});
