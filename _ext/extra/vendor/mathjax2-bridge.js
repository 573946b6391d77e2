/* The ipywidgets HTML manager typesets widget labels with the MathJax 2 API,
 * MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]). The book loads MathJax 3, which has no Hub,
 * so every labelled widget would throw a TypeError. This shim provides MathJax.Hub.Queue on top of
 * MathJax 3's typesetPromise, holding requests made before MathJax has finished loading. */
(function () {
  var pending = [];

  function typeset(element) {
    var mj = window.MathJax;
    if (mj && typeof mj.typesetPromise === "function") {
      mj.typesetPromise(element ? [element] : undefined).catch(function (err) {
        console.warn("MathJax could not typeset a widget label:", err);
      });
    } else {
      pending.push(element);
    }
  }

  var hub = {
    Queue: function () {
      for (var i = 0; i < arguments.length; i++) {
        var cmd = arguments[i];
        if (Array.isArray(cmd) && cmd[0] === "Typeset") typeset(cmd[2]);
        else if (typeof cmd === "function") cmd();
      }
    },
  };

  function install() {
    if (window.MathJax && !window.MathJax.Hub) window.MathJax.Hub = hub;
  }

  install();
  var timer = setInterval(function () {
    install();
    if (window.MathJax && typeof window.MathJax.typesetPromise === "function") {
      clearInterval(timer);
      pending.splice(0).forEach(typeset);
    }
  }, 50);
})();
