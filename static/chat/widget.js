/*! Storyfront chat widget. Served at https://<storyfront>/widget/<token>/widget.js; embed with
 *  <script src="https://<storyfront>/widget/<token>/widget.js" async></script>
 *
 * Self-contained (no dependencies, no build step). It learns the Storyfront origin and the merchant's public
 * widget token from its own URL, draws a chat bubble and panel inside a shadow root (so the storefront's CSS
 * and ours never meet), and talks to the widget endpoints with CORS:
 *   GET  config                                   bot name, greeting
 *   POST conversations/                           -> {id, session_secret}  (the secret stays in sessionStorage)
 *   POST conversations/<id>/messages/  {text}     the shopper's message and the bot's pending reply
 *   GET  conversations/<id>/stream/?message=<id>  Server-Sent Events of that reply (delta, replace, done)
 *   GET  conversations/<id>/messages/?after=<id>  newer messages (staff replies after a handoff)
 * every call after the first carrying the header X-Widget-Session: <secret>.
 * Text from the server is only ever put on the page with textContent, never parsed as HTML.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.src || !window.fetch) return;
  var src = new URL(script.src, document.baseURI);
  var match = src.pathname.match(/\/widget\/([^/]+)\/widget\.js$/);
  if (!match) return;
  var TOKEN = decodeURIComponent(match[1]);
  var BASE = src.origin + src.pathname.slice(0, src.pathname.length - "widget.js".length);
  var STORE_KEY = "storyfront-chat:" + TOKEN;
  var registry = (window.__storyfrontChat = window.__storyfrontChat || {});
  if (registry[TOKEN]) return; // the snippet was pasted twice
  registry[TOKEN] = true;

  var POLL_PENDING_MS = 1500;
  var POLL_STAFF_MS = 4000;
  var PAGE = 100;                // the most messages one poll answers
  var SETTLED = { complete: true, failed: true };
  var ROLE_LABEL = { shopper: "You", staff: "Support team", system: "" };

  var config = { bot_name: "Assistant", greeting: "" };
  var session = loadSession();
  var status = "open";           // the conversation's status as last heard: open | handed_off | resolved
  var cursor = 0;                // every message up to this id is settled
  var shown = {};                // message id -> its element
  var pollTimer = null;
  var streaming = {};            // reply id -> true while its event stream is read
  var historyLoaded = false;
  var sending = false;
  var ui = null;

  // ---------- Session ----------
  function loadSession() {
    try {
      var raw = window.sessionStorage.getItem(STORE_KEY);
      var data = raw && JSON.parse(raw);
      return data && data.id && data.secret ? data : null;
    } catch (e) {
      return null;
    }
  }
  function saveSession(value) {
    session = value;
    try {
      if (value) window.sessionStorage.setItem(STORE_KEY, JSON.stringify(value));
      else window.sessionStorage.removeItem(STORE_KEY);
    } catch (e) { /* storage off: the conversation lasts as long as the page */ }
  }

  // ---------- HTTP ----------
  function api(method, path, body) {
    var headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (session) headers["X-Widget-Session"] = session.secret;
    return fetch(BASE + path, {
      method: method, headers: headers, mode: "cors", credentials: "omit", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!response.ok) {
          var error = new Error((data && (data.message || data.detail)) || "HTTP " + response.status);
          error.status = response.status;
          error.retryAfter = parseInt(response.headers.get("Retry-After") || "", 10);
          throw error;
        }
        return data;
      });
    });
  }

  function conversationPath(suffix) {
    return "conversations/" + encodeURIComponent(session.id) + "/" + (suffix || "");
  }

  // The endpoints answer a list or an object holding one; accept either.
  function messagesOf(data) {
    if (!data) return [];
    if (Array.isArray(data)) return data;
    return data.messages || data.results || [];
  }
  function statusOf(data) {
    if (!data || Array.isArray(data)) return null;
    return data.conversation_status || (data.conversation && data.conversation.status) || data.status || null;
  }

  // ---------- Interface ----------
  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box}",
    ".sf{position:fixed;right:20px;bottom:20px;z-index:2147483000;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#161b26}",
    ".bubble{display:grid;place-items:center;width:58px;height:58px;border:0;border-radius:999px;background:#4338ca;color:#fff;cursor:pointer;box-shadow:0 8px 24px rgba(16,24,40,.25);position:relative}",
    ".bubble:hover{background:#3730a3}",
    ".bubble:focus-visible,button:focus-visible,textarea:focus-visible{outline:3px solid #a5b4fc;outline-offset:2px}",
    ".bubble svg{width:28px;height:28px}",
    ".dot{position:absolute;top:4px;right:4px;width:13px;height:13px;border-radius:999px;background:#f04438;border:2px solid #fff}",
    ".panel{position:absolute;right:0;bottom:72px;width:min(380px,calc(100vw - 40px));height:min(560px,calc(100vh - 120px));display:flex;flex-direction:column;background:#fff;border:1px solid #e3e6eb;border-radius:16px;box-shadow:0 20px 48px rgba(16,24,40,.22);overflow:hidden}",
    ".panel[hidden]{display:none}",
    ".head{display:flex;align-items:center;gap:10px;padding:12px 14px;background:#4338ca;color:#fff}",
    ".head h2{margin:0;font-size:16px;font-weight:650;flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}",
    ".close{display:grid;place-items:center;width:36px;height:36px;border:0;border-radius:8px;background:transparent;color:#fff;cursor:pointer;font-size:22px;line-height:1}",
    ".close:hover{background:rgba(255,255,255,.15)}",
    ".notice{margin:0;padding:9px 14px;background:#fffaeb;border-bottom:1px solid #fedf89;color:#93370d;font-size:13.5px}",
    ".notice[hidden]{display:none}",
    ".log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px;background:#f9fafb;overscroll-behavior:contain}",
    ".msg{max-width:86%;display:flex;flex-direction:column;gap:2px}",
    ".msg .who{font-size:11.5px;color:#667085;font-weight:600}",
    ".msg .text{margin:0;padding:8px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".bot,.staff{align-self:flex-start}",
    ".bot .text{background:#fff;border:1px solid #e3e6eb;border-top-left-radius:4px}",
    ".staff .text{background:#ecfdf3;border:1px solid #abefc6;border-top-left-radius:4px}",
    ".shopper{align-self:flex-end;align-items:flex-end}",
    ".shopper .text{background:#4338ca;color:#fff;border-top-right-radius:4px}",
    ".system{align-self:center;max-width:100%}",
    ".system .text{padding:4px 10px;font-size:12.5px;color:#475467;background:#eef0f3;border-radius:999px;text-align:center}",
    ".failed .text{background:#fef3f2;border-color:#fecdca}",
    ".typing{display:inline-flex;gap:4px;align-items:center;padding:12px 14px;background:#fff;border:1px solid #e3e6eb;border-radius:14px;border-top-left-radius:4px;width:max-content}",
    ".typing span{width:7px;height:7px;border-radius:999px;background:#4338ca;opacity:.3;animation:sfdot 1.2s infinite ease-in-out}",
    ".typing span:nth-child(2){animation-delay:.2s}.typing span:nth-child(3){animation-delay:.4s}",
    "@keyframes sfdot{0%,80%,100%{opacity:.25}40%{opacity:1}}",
    "@media (prefers-reduced-motion:reduce){.typing span{animation:none;opacity:.6}}",
    ".error{margin:0;padding:8px 14px;background:#fef3f2;color:#912018;font-size:13px;border-top:1px solid #fecdca}",
    ".error[hidden]{display:none}",
    "form{display:flex;gap:8px;align-items:flex-end;padding:10px;border-top:1px solid #e3e6eb;background:#fff}",
    "textarea{flex:1;min-width:0;resize:none;max-height:120px;padding:9px 11px;border:1px solid #cfd4dc;border-radius:10px;font:inherit;color:inherit;background:#fff}",
    "textarea:focus{border-color:#6366f1;outline:none;box-shadow:0 0 0 3px rgba(99,102,241,.2)}",
    ".send{height:40px;padding:0 14px;border:0;border-radius:10px;background:#4338ca;color:#fff;font:inherit;font-weight:600;cursor:pointer}",
    ".send:disabled{opacity:.5;cursor:default}",
    ".sr{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}",
    "@media (max-width:480px){.sf{right:14px;bottom:14px}.panel{position:fixed;inset:0;width:auto;height:auto;border-radius:0;border:0}.panel:not([hidden])~.bubble{display:none}}"
  ].join("\n");

  var ICON = '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" ' +
    'stroke-linejoin="round" aria-hidden="true"><path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12Z"/></svg>';

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function build() {
    var host = el("div", { id: "storyfront-chat", "data-storyfront-chat": TOKEN });
    var root = host.attachShadow({ mode: "open" });
    // A constructed stylesheet is not an inline <style>, so a storefront whose Content-Security-Policy refuses
    // inline styles (ours does, on the demo store) still styles the widget; older browsers get the <style>.
    var style = null;
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      style = el("style");
      style.textContent = CSS;
    }
    var wrap = el("div", { class: "sf" });
    var panel = el("section", { class: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "sf-title", hidden: "", id: "sf-panel" });
    var head = el("div", { class: "head" });
    var title = el("h2", { id: "sf-title" }, config.bot_name);
    var close = el("button", { type: "button", class: "close", "aria-label": "Close chat" }, "×");
    head.appendChild(title);
    head.appendChild(close);
    var notice = el("p", { class: "notice", role: "status", hidden: "", "data-part": "handoff-notice" });
    var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Messages", tabindex: "0" });
    var error = el("p", { class: "error", role: "alert", hidden: "" });
    var form = el("form", { "aria-label": "Send a message" });
    var label = el("label", { class: "sr", for: "sf-input" }, "Your message");
    var input = el("textarea", { id: "sf-input", rows: "1", maxlength: "2000", placeholder: "Ask a question…", autocomplete: "off" });
    var send = el("button", { type: "submit", class: "send" }, "Send");
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(send);
    panel.appendChild(head);
    panel.appendChild(notice);
    panel.appendChild(log);
    panel.appendChild(error);
    panel.appendChild(form);
    var bubble = el("button", { type: "button", class: "bubble", "aria-label": "Chat with " + config.bot_name, "aria-expanded": "false", "aria-controls": "sf-panel" });
    bubble.innerHTML = ICON; // a constant of this script, never server data
    var dot = el("span", { class: "dot", hidden: "" });
    bubble.appendChild(dot);
    wrap.appendChild(panel);
    wrap.appendChild(bubble);
    if (style) root.appendChild(style);
    root.appendChild(wrap);
    document.body.appendChild(host);

    bubble.addEventListener("click", function () { setOpen(panel.hidden); });
    close.addEventListener("click", function () { setOpen(false); });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); setOpen(false); }
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });
    input.addEventListener("input", grow);
    form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
    return { host: host, root: root, panel: panel, bubble: bubble, dot: dot, log: log, notice: notice, error: error, input: input, send: send, title: title };
  }

  function grow() {
    ui.input.style.height = "auto";
    ui.input.style.height = Math.min(ui.input.scrollHeight + 2, 120) + "px";
  }

  function setOpen(open) {
    ui.panel.hidden = !open;
    ui.bubble.setAttribute("aria-expanded", String(open));
    ui.bubble.setAttribute("aria-label", (open ? "Close chat with " : "Chat with ") + config.bot_name);
    if (open) {
      ui.dot.hidden = true;
      if (!historyLoaded) loadHistory();
      scrollDown();
      ui.input.focus();
    } else {
      ui.bubble.focus();
    }
  }

  function scrollDown() { ui.log.scrollTop = ui.log.scrollHeight; }

  function showError(text) {
    ui.error.textContent = text || "";
    ui.error.hidden = !text;
  }

  function setStatus(value) {
    if (!value) return;
    status = value;
    if (status === "handed_off") {
      ui.notice.textContent = "You're being connected to a person from our team. They will reply here.";
      ui.notice.hidden = false;
    } else {
      ui.notice.hidden = true;
    }
    schedulePoll();
  }

  // ---------- Messages ----------
  function forget(id) {
    if (shown[id]) shown[id].remove();
    delete shown[id];
  }

  function render(message) {
    if (!message || message.id === undefined || message.id === null) return;
    // A reply the bot dropped (a person took over before it was written) has nothing to show.
    if (message.status === "failed" && !message.text) { forget(message.id); return; }
    var node = shown[message.id];
    var fresh = !node;
    if (fresh) {
      node = el("div", { "data-message-id": String(message.id) });
      node.appendChild(el("span", { class: "who" }));
      shown[message.id] = node;
      ui.log.appendChild(node);
    }
    var role = message.role || "bot";
    var pending = message.status === "pending" || (message.status === "streaming" && !message.text);
    node.className = "msg " + role + (message.status === "failed" ? " failed" : "");
    node.setAttribute("data-role", role);
    node.setAttribute("data-status", message.status || "complete");
    var who = node.querySelector(".who");
    who.textContent = role === "bot" ? config.bot_name : (ROLE_LABEL[role] || "");
    who.hidden = role === "system";
    var body = node.querySelector(".text, .typing");
    if (pending) {
      if (!body || !body.classList.contains("typing")) {
        if (body) body.remove();
        body = el("span", { class: "typing", role: "status" });
        body.appendChild(el("span"));
        body.appendChild(el("span"));
        body.appendChild(el("span"));
        body.appendChild(el("span", { class: "sr" }, config.bot_name + " is typing…"));
        node.appendChild(body);
      }
    } else {
      if (!body || !body.classList.contains("text")) {
        if (body) body.remove();
        body = el("p", { class: "text" });
        node.appendChild(body);
      }
      body.textContent = message.text || "";
    }
    if (message.handoff) setStatus("handed_off");
    if (fresh && ui.panel.hidden && role !== "shopper") ui.dot.hidden = false;
    scrollDown();
  }

  function absorb(list) {
    list.forEach(render);
    // Advance the cursor over settled messages only, so an unfinished reply is asked for again.
    var ids = Object.keys(shown).map(Number).filter(function (id) { return !isNaN(id); })
      .sort(function (a, b) { return a - b; });
    for (var i = 0; i < ids.length; i++) {
      var node = shown[ids[i]];
      if (ids[i] <= cursor) continue;
      if (!SETTLED[node.getAttribute("data-status")]) break;
      cursor = ids[i];
    }
  }

  function unsettled() {
    return Object.keys(shown).some(function (id) { return !SETTLED[shown[id].getAttribute("data-status")]; });
  }

  function greet() {
    if (!config.greeting || ui.log.querySelector("[data-greeting]")) return;
    var node = el("div", { class: "msg bot", "data-greeting": "" });
    node.appendChild(el("span", { class: "who" }, config.bot_name));
    node.appendChild(el("p", { class: "text" }, config.greeting));
    ui.log.insertBefore(node, ui.log.firstChild);
  }

  function loadHistory() {
    historyLoaded = true;
    if (!session) return;
    api("GET", conversationPath("messages/")).then(function (data) {
      setStatus(statusOf(data));
      absorb(messagesOf(data));
      schedulePoll();
    }).catch(function (error) {
      if (error.status === 403 || error.status === 404) saveSession(null); // expired or revoked: start afresh
    });
  }

  // ---------- Polling (staff replies, and replies whose stream was lost) ----------
  function schedulePoll() {
    if (pollTimer || !session) return;
    var waiting = unsettled() && !Object.keys(streaming).length;
    if (!waiting && status !== "handed_off") return;
    pollTimer = window.setTimeout(poll, waiting ? POLL_PENDING_MS : POLL_STAFF_MS);
  }

  function poll() {
    pollTimer = null;
    if (!session) return;
    var after = cursor;
    api("GET", conversationPath("messages/") + "?after=" + encodeURIComponent(after)).then(function (data) {
      var list = messagesOf(data);
      var returned = {};
      list.forEach(function (message) { returned[message.id] = true; });
      // Everything after the cursor comes back (up to a page), except replies the bot dropped: stop
      // waiting for those.
      if (list.length < PAGE) Object.keys(shown).forEach(function (id) {
        if (Number(id) > after && !returned[id] && !SETTLED[shown[id].getAttribute("data-status")]) forget(id);
      });
      setStatus(statusOf(data));
      absorb(list);
    }).catch(function () { /* try again on the next tick */ }).then(schedulePoll);
  }

  // ---------- Streaming a reply ----------
  function stream(reply) {
    if (!window.ReadableStream || !window.TextDecoder) { schedulePoll(); return; }
    streaming[reply.id] = true;
    var text = reply.text || "";
    var done = false;
    fetch(BASE + conversationPath("stream/") + "?message=" + encodeURIComponent(reply.id), {
      headers: { Accept: "text/event-stream", "X-Widget-Session": session.secret },
      mode: "cors", credentials: "omit", cache: "no-store"
    }).then(function (response) {
      if (!response.ok || !response.body) throw new Error("HTTP " + response.status);
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function handle(block) {
        var event = "message", data = "";
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event:") === 0) event = line.slice(6).trim();
          else if (line.indexOf("data:") === 0) data += line.slice(5).replace(/^ /, "");
        });
        if (!data) return;
        var payload;
        try { payload = JSON.parse(data); } catch (e) { return; }
        if (event === "delta") {
          text += payload.text || "";
          render({ id: reply.id, role: "bot", status: "streaming", text: text });
        } else if (event === "replace") {
          text = payload.text || "";
          render({ id: reply.id, role: "bot", status: "streaming", text: text });
        } else if (event === "done") {
          done = true;
          var final = payload.reply || payload.message || payload;
          if (final && final.id === undefined) final.id = reply.id;
          absorb([final]);
          setStatus(payload.conversation_status || (payload.handoff ? "handed_off" : null));
        } else if (event === "timeout") {
          done = false;
        }
      }
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) return;
          buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
          var parts = buffer.split("\n\n");
          buffer = parts.pop();
          parts.forEach(handle);
          return pump();
        });
      }
      return pump();
    }).catch(function () { /* fall back to polling below */ }).then(function () {
      delete streaming[reply.id];
      if (!done) render({ id: reply.id, role: "bot", status: text ? "streaming" : "pending", text: text });
      schedulePoll();
    });
  }

  // ---------- Sending ----------
  function ensureConversation() {
    if (session) return Promise.resolve(session);
    return api("POST", "conversations/", {}).then(function (data) {
      saveSession({ id: data.id, secret: data.session_secret });
      return session;
    });
  }

  function submit() {
    var text = ui.input.value.trim();
    if (!text || sending) return;
    sending = true;
    ui.send.disabled = true;
    showError("");
    ensureConversation().then(function () {
      return api("POST", conversationPath("messages/"), { text: text });
    }).catch(function (error) {
      if ((error.status === 403 || error.status === 404) && session) {
        // The stored conversation is gone (or its secret is): start a new one, once.
        saveSession(null);
        return ensureConversation().then(function () {
          return api("POST", conversationPath("messages/"), { text: text });
        });
      }
      throw error;
    }).then(function (data) {
      ui.input.value = "";
      grow();
      var mine = data && (data.shopper_message || data.message);
      render(mine || { id: "local-" + Date.now(), role: "shopper", status: "complete", text: text });
      var reply = data && data.reply;
      setStatus(statusOf(data) || (data && data.handoff ? "handed_off" : null));
      if (reply) {
        render(reply);
        if (!SETTLED[reply.status]) stream(reply);
      }
      absorb([]);
      schedulePoll();
    }).catch(function (error) {
      if (error.status === 429) {
        var wait = error.retryAfter > 0 ? " Try again in " + error.retryAfter + " s." : " Try again in a minute.";
        showError("You're sending messages too quickly." + wait);
      } else {
        showError(error.message && error.status ? error.message : "The message could not be sent. Check your connection and try again.");
      }
    }).then(function () {
      sending = false;
      ui.send.disabled = false;
      ui.input.focus();
    });
  }

  // ---------- Start ----------
  function start() {
    api("GET", "config").then(function (data) {
      if (data) {
        config.bot_name = data.bot_name || config.bot_name;
        config.greeting = data.greeting || "";
      }
      ui = build();
      greet();
      // A conversation from an earlier page of this visit: pick it up so staff replies are not missed.
      if (session) loadHistory();
    }).catch(function (error) {
      if (window.console) window.console.warn("Storyfront chat is not available on this page (" + error.message + ").");
    });
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
