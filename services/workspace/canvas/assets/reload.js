// Live reload of a canvas page: the daemon tells the page on
// /_canvas/events when a file of the canvas changed, and the page reloads.
// The generation the page was read at comes with this script's URL, so a
// change between the read and the stream's start still reloads it.
(function () {
  "use strict";
  var script = document.currentScript;
  var gen = script ? new URL(script.src).searchParams.get("gen") : null;
  var url = "/_canvas/events" + (gen === null ? "" : "?gen=" + encodeURIComponent(gen));
  var events = null;
  function open() {
    events = new EventSource(url);
    events.addEventListener("change", function () {
      events.close();
      window.location.reload();
    });
  }
  // A page kept in the back-forward cache must not hold one of the
  // daemon's bounded streams; back on screen, it asks again from its
  // generation, and reloads if it is stale.
  window.addEventListener("pagehide", function () {
    if (events) events.close();
  });
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) open();
  });
  open();
})();
