/* When the database is not answering, the server answers data requests with 503 and
   {"unavailable": true}. Show a banner saying so, retry the request with a growing pause (2 s up to
   20 s), hand the first good answer to the page, and hide the banner. A page that rendered the
   "Data temporarily unavailable" notice in place of its content reloads itself after a pause. */
(function () {
    var original = window.fetch;
    if (!original) { return; }
    var BANNER_ID = "data-unavailable-banner";
    var TEXT = "Data temporarily unavailable \u2014 the database is not answering; this page retries by itself.";
    var failing = 0;

    function banner(show) {
        var el = document.getElementById(BANNER_ID);
        if (!show) {
            if (el) { el.hidden = true; }
            return;
        }
        if (!el) {
            el = document.createElement("div");
            el.id = BANNER_ID;
            el.setAttribute("role", "alert");
            el.className = "alert alert-warning mb-0";
            el.style.cssText = "position:fixed;top:0;left:0;right:0;z-index:5000;text-align:center;" +
                "border-radius:0;padding:.5rem 1rem;font-weight:600;";
            el.textContent = TEXT;
            document.body.appendChild(el);
        }
        el.hidden = false;
    }

    function isDash(args) {
        var url = args[0] && args[0].url ? args[0].url : String(args[0]);
        return url.indexOf("/_dash-") !== -1;
    }

    function wait(ms) {
        return new Promise(function (resolve) { setTimeout(resolve, ms); });
    }

    function attempt(self, args, pause) {
        return original.apply(self, args).then(function (response) {
            if (response.status !== 503) {
                if (response.ok && failing === 0) { banner(false); }
                return response;
            }
            return response.clone().json().catch(function () { return {}; }).then(function (body) {
                if (!body || !body.unavailable) { return response; }
                failing += 1;
                banner(true);
                return wait(pause).then(function () {
                    failing -= 1;
                    return attempt(self, args, Math.min(pause * 2, 20000));
                });
            });
        });
    }

    window.fetch = function () {
        var args = Array.prototype.slice.call(arguments);
        if (!isDash(args)) { return original.apply(this, args); }
        return attempt(this, args, 2000);
    };

    /* A page whose content is the unavailable notice: reload it once the pause has passed. */
    var reloading = false;
    setInterval(function () {
        var notice = document.getElementById("data-unavailable");
        if (!notice || reloading) { return; }
        reloading = true;
        var seconds = parseInt(notice.getAttribute("data-retry-seconds") || "15", 10);
        setTimeout(function () { window.location.reload(); }, seconds * 1000);
    }, 1000);
})();
