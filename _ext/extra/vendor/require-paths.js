/* Map the AMD module ids defined by the vendored @jupyter-widgets/html-manager bundle to files in
 * vendor/html-manager/dist/. The bundle derives the URL of its fonts and lazily loaded chunks from
 * each module's URL; without this mapping RequireJS resolves the ids against the page's own
 * directory and the icons' fonts 404 on every page below the book's root. */
(function () {
  var base = new URL(".", document.currentScript.src).href + "html-manager/dist/";
  require.config({
    paths: {
      "@jupyter-widgets/base": base + "base",
      "@jupyter-widgets/controls": base + "controls",
      "@jupyter-widgets/html-manager": base + "html-manager",
      "@jupyter-widgets/html-manager/dist/libembed-amd": base + "libembed-amd",
    },
  });
})();
