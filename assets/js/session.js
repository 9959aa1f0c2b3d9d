/* When the server answers a data request with 401 (signed out after inactivity, or the account was
   disabled), go to the sign-in page instead of leaving a page that silently stops updating. */
(function () {
    var original = window.fetch;
    if (!original) { return; }
    window.fetch = function () {
        return original.apply(this, arguments).then(function (response) {
            if (response.status === 401 && String(response.url).indexOf("/_dash-") !== -1) {
                var here = window.location.pathname;
                window.location.assign("/login?expired=1&next=" + encodeURIComponent(here));
            }
            return response;
        });
    };
})();
