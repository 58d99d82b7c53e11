// Stands in for the iframe-worker shim that Material's offline plugin would otherwise load
// from unpkg.com at view time: with this file listed in extra.polyfills, no page of the
// site fetches anything. Search runs in a web worker, which browsers refuse to pages opened
// from file://; it works when the site is served (mkdocs serve, or any static server).
