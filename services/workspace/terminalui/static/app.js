// The terminal page: one tab per terminal of the runtime daemon
// (docs/terminal.md). Each tab keeps a WebSocket to its terminal; a lost
// connection is re-attached to the same id, and the server's replay
// buffer redraws what the shell wrote meanwhile. The open tab is in the
// address's #fragment, so a reload comes back to the same shell.
"use strict";

(function () {
  var api = "v1/terminals";
  var tabs = new Map(); // id -> tab
  var active = "";
  var statusEl = document.getElementById("status");
  var tabsEl = document.getElementById("tabs");
  var screensEl = document.getElementById("screens");

  function status(text, isError) {
    statusEl.textContent = text;
    statusEl.className = isError ? "error" : "";
  }

  function call(method, path, body) {
    var init = { method: method, headers: {}, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (resp) {
      if (resp.status === 204) { return null; }
      return resp.json().then(function (js) {
        if (!resp.ok) { throw new Error((js.code || resp.status) + ": " + (js.message || resp.statusText)); }
        return js;
      });
    });
  }

  function wsURL(id) {
    var u = new URL(api + "/" + encodeURIComponent(id) + "/attach", location.href);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    u.hash = "";
    return u.toString();
  }

  // Tab is one terminal: its xterm, its element and its connection.
  function Tab(id) {
    var self = this;
    this.id = id;
    this.exited = false;
    this.closed = false;
    this.retry = 0;
    this.ws = null;
    this.screen = document.createElement("div");
    // Inactive screens are invisible but laid out: xterm.js measures its
    // cells when it opens, which a display:none element cannot give it.
    this.screen.className = "screen inactive";
    screensEl.appendChild(this.screen);
    this.button = document.createElement("div");
    this.button.className = "tab";
    this.button.setAttribute("role", "tab");
    this.button.dataset.id = id;
    var label = document.createElement("span");
    label.textContent = id;
    var close = document.createElement("button");
    close.className = "close";
    close.type = "button";
    close.title = "Close terminal " + id;
    close.setAttribute("aria-label", "Close terminal " + id);
    close.textContent = "\u00d7";
    close.addEventListener("click", function (ev) { ev.stopPropagation(); closeTab(id); });
    this.button.appendChild(label);
    this.button.appendChild(close);
    this.button.addEventListener("click", function () { select(id); });
    tabsEl.appendChild(this.button);

    this.term = new Terminal({ cursorBlink: true, scrollback: 5000, fontFamily: "monospace", fontSize: 14 });
    this.term.open(this.screen);
    this.term.on("data", function (d) { self.send(new TextEncoder().encode(d)); });
    this.term.on("resize", function (size) { self.sendResize(size.cols, size.rows); });
    this.connect();
  }

  Tab.prototype.send = function (data) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) { this.ws.send(data); }
  };

  Tab.prototype.sendResize = function (cols, rows) {
    if (cols > 0 && rows > 0) { this.send(JSON.stringify({ type: "resize", cols: cols, rows: rows })); }
  };

  Tab.prototype.fit = function () {
    if (this.screen.classList.contains("inactive")) { return; }
    var g = this.term.proposeGeometry();
    if (g && g.cols > 1 && g.rows > 1 && isFinite(g.cols) && isFinite(g.rows)) { this.term.fit(); }
  };

  Tab.prototype.connect = function () {
    var self = this;
    var ws = new WebSocket(wsURL(this.id));
    ws.binaryType = "arraybuffer";
    var decoder = new TextDecoder("utf-8");
    var first = true;
    this.ws = ws;
    ws.onopen = function () {
      self.retry = 0;
      self.sendResize(self.term.cols, self.term.rows);
      if (self.id === active) { status("connected to " + self.id); }
    };
    ws.onmessage = function (ev) {
      if (typeof ev.data === "string") {
        var msg = JSON.parse(ev.data);
        if (msg.type === "exit") { self.exit(msg); }
        return;
      }
      if (first) {
        // The replay buffer starts this connection: it redraws the screen.
        first = false;
        self.term.reset();
      }
      self.term.write(decoder.decode(new Uint8Array(ev.data), { stream: true }));
    };
    ws.onclose = function (ev) {
      if (self.ws !== ws) { return; }
      self.ws = null;
      if (self.exited || self.closed) { return; }
      if (ev.code === 1008 || ev.code === 1009) {
        status(self.id + ": the server closed the connection: " + ev.reason, true);
      }
      // Lost: re-attach to the same shell, backing off to at most 5 s.
      self.retry = Math.min(self.retry + 1, 10);
      var delay = Math.min(5000, 200 * self.retry * self.retry);
      if (self.id === active) { status("reconnecting to " + self.id + "\u2026", true); }
      setTimeout(function () { if (!self.closed && !self.exited) { self.reattach(); } }, delay);
    };
  };

  // reattach connects again when the terminal still exists, and otherwise
  // shows that it is gone.
  Tab.prototype.reattach = function () {
    var self = this;
    call("GET", api + "/" + encodeURIComponent(this.id)).then(function (info) {
      if (info.running) { self.connect(); } else { self.exit(info.exit || {}); }
    }, function (err) {
      if (/TERMINAL_NOT_FOUND/.test(err.message)) { self.exit({}); return; }
      self.ws = null;
      self.retry = Math.min(self.retry + 1, 10);
      status("reconnecting to " + self.id + ": " + err.message, true);
      setTimeout(function () { if (!self.closed) { self.reattach(); } }, 2000);
    });
  };

  Tab.prototype.exit = function (msg) {
    if (this.exited) { return; }
    this.exited = true;
    this.button.classList.add("exited");
    var how = msg.signal ? "killed by " + msg.signal : "exited with code " + (msg.exit_code || 0);
    this.term.write("\r\n\x1b[2m[the shell " + how + "; close the tab or open a new one]\x1b[0m\r\n");
    if (this.id === active) { status(this.id + ": " + how); }
  };

  Tab.prototype.dispose = function () {
    this.closed = true;
    if (this.ws) { this.ws.close(1000, "tab closed"); }
    this.term.dispose();
    this.screen.remove();
    this.button.remove();
  };

  function select(id) {
    var tab = tabs.get(id);
    if (!tab) { return; }
    active = id;
    tabs.forEach(function (t) {
      t.screen.classList.toggle("inactive", t !== tab);
      t.button.setAttribute("aria-selected", t === tab ? "true" : "false");
    });
    history.replaceState(null, "", "#" + encodeURIComponent(id));
    tab.fit();
    tab.term.focus();
    status(tab.exited ? id + ": exited" : (tab.ws && tab.ws.readyState === WebSocket.OPEN ? "connected to " + id : "connecting to " + id + "\u2026"));
  }

  function add(id) {
    if (!tabs.has(id)) { tabs.set(id, new Tab(id)); }
    return tabs.get(id);
  }

  function create() {
    var tab = tabs.get(active);
    var size = tab ? { cols: tab.term.cols, rows: tab.term.rows } : {};
    return call("POST", api, size).then(function (info) {
      add(info.id);
      select(info.id);
    }, function (err) { status("cannot open a terminal: " + err.message, true); });
  }

  function closeTab(id) {
    var tab = tabs.get(id);
    if (!tab) { return; }
    call("DELETE", api + "/" + encodeURIComponent(id)).catch(function (err) {
      if (!/TERMINAL_NOT_FOUND/.test(err.message)) { status("cannot close " + id + ": " + err.message, true); }
    });
    tab.dispose();
    tabs.delete(id);
    if (active === id) {
      active = "";
      var next = tabs.keys().next();
      if (!next.done) { select(next.value); } else { create(); }
    }
  }

  // Hooks for tests and the curious: the text on the open tab's screen.
  window.aileronTerminal = {
    active: function () { return active; },
    text: function () {
      var tab = tabs.get(active);
      if (!tab) { return ""; }
      var buf = tab.term._core.buffer, out = [];
      for (var i = 0; i < buf.lines.length; i++) { out.push(buf.translateBufferLineToString(i, true)); }
      return out.join("\n");
    },
    size: function () {
      var tab = tabs.get(active);
      return tab ? [tab.term.cols, tab.term.rows] : [0, 0];
    },
    // drop closes the open tab's connection as a network loss would.
    drop: function () {
      var tab = tabs.get(active);
      if (tab && tab.ws) { tab.ws.close(4000, "dropped"); }
    },
    connected: function () {
      var tab = tabs.get(active);
      return !!(tab && tab.ws && tab.ws.readyState === WebSocket.OPEN);
    }
  };

  document.getElementById("new").addEventListener("click", create);
  window.addEventListener("resize", function () { var t = tabs.get(active); if (t) { t.fit(); } });

  if (typeof Terminal !== "function") {
    status("xterm.js did not load", true);
    return;
  }
  var want = decodeURIComponent(location.hash.slice(1));
  call("GET", api).then(function (js) {
    var list = (js.terminals || []).filter(function (t) { return t.running; });
    list.forEach(function (t) { add(t.id); });
    if (want && tabs.has(want)) { select(want); return; }
    if (list.length) { select(list[0].id); return; }
    return create();
  }).catch(function (err) { status("cannot list terminals: " + err.message, true); });
})();
