// The browser daemon's live preview: draws the current tab's screencast
// on a canvas and sends mouse and keyboard input back (docs/browser.md).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const canvas = $("screen"), ctx = canvas.getContext("2d");
  // The shown tab's id is the address's #fragment, so a reload keeps it.
  let ws = null, target = "";

  function send(msg) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg)); }

  function connect(id) {
    if (ws) ws.close();
    target = id || "";
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(proto + "//" + location.host + "/v1/screencast" + (target ? "?target=" + encodeURIComponent(target) : ""));
    ws.binaryType = "blob";
    const mine = ws;
    let opened = false;
    ws.onopen = () => { opened = true; $("state").textContent = "live"; };
    ws.onclose = () => {
      if (mine !== ws) return;
      $("state").textContent = "disconnected";
      // Refused before opening (the tab is gone): fall back to the current tab.
      setTimeout(() => connect(opened ? target : ""), 2000);
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") { draw(ev.data); return; }
      const m = JSON.parse(ev.data);
      if (m.type === "tab") { target = m.id; history.replaceState(null, "", "#" + m.id); $("url").value = m.url; tabs(); }
      else if (m.type === "navigated") { $("url").value = m.url; tabs(); }
      else if (m.type === "error") $("state").textContent = m.code;
    };
  }

  function draw(blob) {
    createImageBitmap(blob).then((img) => {
      if (canvas.width !== img.width || canvas.height !== img.height) { canvas.width = img.width; canvas.height = img.height; }
      ctx.drawImage(img, 0, 0);
      img.close();
    });
  }

  function tabs() {
    fetch("/v1/tabs").then((r) => r.json()).then((body) => {
      const nav = $("tabs");
      nav.replaceChildren();
      for (const t of body.tabs || []) {
        const b = document.createElement("button");
        b.textContent = t.title || t.url || "New tab";
        b.title = t.url;
        if (t.id === target) b.className = "current";
        b.onclick = () => connect(t.id);
        nav.appendChild(b);
      }
    }).catch(() => {});
  }

  // Mouse positions are sent as fractions of the frame; the daemon scales
  // them to the page's viewport.
  function pos(e) {
    const r = canvas.getBoundingClientRect();
    return { x: (e.clientX - r.left) / r.width, y: (e.clientY - r.top) / r.height };
  }
  function mods(e) { return (e.altKey ? 1 : 0) | (e.ctrlKey ? 2 : 0) | (e.metaKey ? 4 : 0) | (e.shiftKey ? 8 : 0); }
  const buttons = ["left", "middle", "right"];
  function mouse(event, e, extra) {
    send(Object.assign({ type: "mouse", event: event, button: buttons[e.button] || "none", buttons: e.buttons, modifiers: mods(e) }, pos(e), extra || {}));
  }
  canvas.addEventListener("mousedown", (e) => { canvas.focus(); mouse("mousePressed", e, { clickCount: e.detail || 1 }); e.preventDefault(); });
  canvas.addEventListener("mouseup", (e) => { mouse("mouseReleased", e, { clickCount: e.detail || 1 }); e.preventDefault(); });
  canvas.addEventListener("mousemove", (e) => { send(Object.assign({ type: "mouse", event: "mouseMoved", button: "none", buttons: e.buttons, modifiers: mods(e) }, pos(e))); });
  canvas.addEventListener("wheel", (e) => { send(Object.assign({ type: "mouse", event: "mouseWheel", button: "none", deltaX: e.deltaX, deltaY: e.deltaY, modifiers: mods(e) }, pos(e))); e.preventDefault(); }, { passive: false });
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  function key(event, e) {
    const text = event === "keyDown" && e.key.length === 1 ? e.key : "";
    send({ type: "key", event: event, key: e.key, code: e.code, text: text, keyCode: e.keyCode, modifiers: mods(e) });
    e.preventDefault();
  }
  canvas.addEventListener("keydown", (e) => key("keyDown", e));
  canvas.addEventListener("keyup", (e) => key("keyUp", e));

  $("go").addEventListener("submit", (e) => {
    e.preventDefault();
    let url = $("url").value.trim();
    if (url && url !== "about:blank" && !/^https?:\/\//i.test(url)) url = "https://" + url;
    send({ type: "navigate", url: url });
  });
  $("back").onclick = () => send({ type: "back" });
  $("forward").onclick = () => send({ type: "forward" });
  $("reload").onclick = () => send({ type: "reload" });
  $("newtab").onclick = () => {
    fetch("/v1/tabs", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ url: "about:blank" }) })
      .then((r) => r.json()).then((t) => connect(t.id));
  };
  connect(location.hash.slice(1));
  setInterval(tabs, 5000);
})();
