/* The network page loads dash-cytoscape itself (it is left out of every other page's scripts): the
   bundle's URL is on the graph's holder; the promise resolves true once the library is in the page
   (at once when an earlier visit loaded it), false if it cannot load — the page then says so and the
   node list remains. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    atlasNetwork: {
        loadGraphLibrary: function (src) {
            if (window.dash_cytoscape) { return true; }
            if (!src) { return false; }
            return new Promise(function (resolve) {
                var tag = document.querySelector('script[data-cga-library="dash_cytoscape"]');
                if (!tag) {
                    tag = document.createElement("script");
                    tag.src = src;
                    tag.async = true;
                    tag.setAttribute("data-cga-library", "dash_cytoscape");
                    document.head.appendChild(tag);
                }
                tag.addEventListener("load", function () { resolve(!!window.dash_cytoscape); });
                tag.addEventListener("error", function () { resolve(false); });
            });
        }
    }
});
