// Storyfront Chat dashboard: the conversation page's thread (stays scrolled to the newest message while you
// are at the bottom), the reply box (Enter sends, Shift+Enter adds a line) and keyboard shortcuts
// (r reply, t take over, b hand back, ? help; app.js opens the help from its button). Everything here is an enhancement: the pages work without it.
(function () {
  "use strict";

  function typing(el) {
    if (!el) return false;
    const tag = el.tagName;
    return el.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  // ---------- Thread ----------
  let stick = true;

  function thread() { return document.querySelector("[data-thread]"); }

  function toBottom(list) { list.scrollTop = list.scrollHeight; }

  // The poller may deliver a message the page already has (a poll that crossed an action's refresh):
  // keep the newest copy only.
  function dedupe(list) {
    const seen = {};
    Array.prototype.slice.call(list.children).reverse().forEach(function (item) {
      if (!item.id) return;
      if (seen[item.id]) item.remove();
      else seen[item.id] = true;
    });
  }

  function watchThread() {
    const list = thread();
    if (!list || list.dataset.watched) return;
    list.dataset.watched = "1";
    toBottom(list);
    list.addEventListener("scroll", function () {
      stick = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
    });
    new MutationObserver(function () {
      dedupe(list);
      if (stick) toBottom(list);
    }).observe(list, { childList: true });
  }

  // ---------- Reply box ----------
  document.addEventListener("keydown", function (event) {
    const box = event.target;
    if (!box.matches || !box.matches("[data-reply-input]")) return;
    if (event.key === "Escape") { box.blur(); return; }
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    if (!box.value.trim()) return;
    const form = box.closest("form");
    if (form.dataset.sending) return;
    form.dataset.sending = "1";
    form.requestSubmit();
  });

  // After a reply is sent the composer comes back empty: keep typing where you were.
  let replyHadFocus = false;
  document.addEventListener("htmx:beforeRequest", function (event) {
    const form = event.detail.elt;
    if (form && form.matches && form.matches("[data-reply-form]")) replyHadFocus = true;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    watchThread();
    if (!replyHadFocus || !event.detail.target || event.detail.target.id !== "conversation-panel") return;
    replyHadFocus = false;
    const box = document.querySelector("[data-reply-input]");
    if (box) box.focus();
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail.elt;
    if (form && form.dataset) delete form.dataset.sending;
  });

  // ---------- Shortcuts on a conversation page ----------
  function press(action) {
    const button = document.querySelector('#conversation-panel [data-action="' + action + '"]');
    if (button && !button.disabled) button.click();
    return Boolean(button);
  }

  document.addEventListener("keydown", function (event) {
    if (!thread()) return;
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const help = document.querySelector("[data-shortcut-help]");
    if (help && help.open) return;
    if (event.key === "?") {
      if (help) { event.preventDefault(); help.showModal(); }
    } else if (event.key === "r") {
      const box = document.querySelector("[data-reply-input]");
      if (box) { event.preventDefault(); box.focus(); }
    } else if (event.key === "t") {
      if (press("take-over")) event.preventDefault();
    } else if (event.key === "b") {
      if (press("hand-back")) event.preventDefault();
    }
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watchThread);
  else watchThread();
})();
