// Storyfront dashboard behaviour. Everything here is an enhancement: every page works without it.
(function () {
  "use strict";

  function isTyping(el) {
    if (!el) return false;
    const tag = el.tagName;
    return el.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function toast(text) {
    const region = document.querySelector("[data-toasts]");
    if (!region) return;
    const item = document.createElement("div");
    item.className = "toast";
    item.setAttribute("role", "alert");
    item.textContent = text;
    region.appendChild(item);
    setTimeout(function () { item.remove(); }, 6000);
  }

  // Bars carry their length as data-width (a percentage): the Content-Security-Policy refuses style attributes,
  // not styles set from a script. Fragments swapped in later (htmx polling) are sized before they are painted.
  function sizeBars(root) {
    const bars = Array.prototype.slice.call(root.querySelectorAll("[data-width]"));
    if (root.matches("[data-width]")) bars.push(root);
    bars.forEach(function (bar) {
      const percent = Math.min(100, Math.max(0, parseFloat(bar.getAttribute("data-width")) || 0));
      bar.style.width = percent + "%";
    });
  }
  sizeBars(document.documentElement);
  new MutationObserver(function (records) {
    records.forEach(function (record) {
      record.addedNodes.forEach(function (node) { if (node.nodeType === 1) sizeBars(node); });
    });
  }).observe(document.documentElement, { childList: true, subtree: true });

  // Collapsible navigation on small screens.
  document.addEventListener("click", function (event) {
    const toggle = event.target.closest("[data-nav-toggle]");
    if (toggle) {
      const nav = document.getElementById(toggle.getAttribute("aria-controls"));
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      nav.classList.toggle("is-open", open);
      return;
    }
    // Close open <details> menus when clicking elsewhere.
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });

    const dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) {
      dismiss.closest(".message").remove();
      return;
    }

    const copy = event.target.closest("[data-copy]");
    if (copy) {
      const field = document.querySelector(copy.getAttribute("data-copy"));
      const label = copy.querySelector("[data-copy-label]") || copy;
      const done = function () {
        label.textContent = "Copied";
        setTimeout(function () { label.textContent = "Copy"; }, 2000);
      };
      field.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll("details.menu[open]").forEach(function (menu) {
        menu.removeAttribute("open");
        const summary = menu.querySelector("summary");
        if (summary && menu.contains(document.activeElement)) summary.focus();
      });
      return;
    }
    // "/" focuses the page's search box, unless the user is typing somewhere.
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(event.target)) {
      const search = document.querySelector("[data-search-shortcut]");
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    }
  });

  // Destructive forms ask first.
  document.addEventListener("submit", function (event) {
    const message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // File inputs: show the chosen name and accept drops on the whole zone.
  document.addEventListener("change", function (event) {
    const zone = event.target.closest("[data-dropzone]");
    if (zone && event.target.files && event.target.files.length) {
      zone.querySelector("[data-dropzone-label]").textContent = "Selected: " + event.target.files[0].name;
    }
  });
  ["dragenter", "dragover"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      const zone = event.target.closest && event.target.closest("[data-dropzone]");
      if (zone) { event.preventDefault(); zone.classList.add("is-dragover"); }
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      const zone = event.target.closest && event.target.closest("[data-dropzone]");
      if (!zone) return;
      zone.classList.remove("is-dragover");
      if (name === "drop" && event.dataTransfer.files.length) {
        event.preventDefault();
        const input = zone.querySelector("input[type=file]");
        input.files = event.dataTransfer.files;
        input.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  });

  // htmx: a logged-out session answers with the login page, which must replace the page, not a fragment.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const xhr = event.detail.xhr;
    if (xhr && xhr.responseURL && xhr.responseURL.indexOf("/accounts/login/") !== -1) {
      event.preventDefault();
      window.location.href = xhr.responseURL;
    }
  });
  document.addEventListener("htmx:responseError", function (event) {
    const status = event.detail.xhr.status;
    toast(status === 403 ? "Your role does not allow that." : status === 404 ? "Not found." :
      "Something went wrong (" + status + "). Please try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    toast("The server could not be reached. Check your connection and try again.");
  });
  // Announce the new result count to screen readers after a live search.
  document.addEventListener("htmx:afterSwap", function (event) {
    const summary = event.detail.target.querySelector("[data-result-summary]");
    const announcer = document.querySelector("[data-result-announcer]");
    if (summary && announcer) announcer.textContent = summary.textContent.trim();
  });
})();

// ==========================================================================
// Copy studio: review queue keyboard shortcuts, live character counts, card errors.
// j/k move between pieces, a approves, r rejects (asks for a reason), e edits, g regenerates, x ticks the
// piece for bulk approval, ? shows the help. Keys are ignored while typing and with modifier keys.
// ==========================================================================
(function () {
  "use strict";

  function typing(el) {
    if (!el) return false;
    const tag = el.tagName;
    return el.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function say(text) {
    const region = document.querySelector("[data-toasts]");
    if (!region) return;
    const item = document.createElement("div");
    item.className = "toast";
    item.setAttribute("role", "alert");
    item.textContent = text;
    region.appendChild(item);
    setTimeout(function () { item.remove(); }, 5000);
  }

  let currentId = null;

  function cards() { return Array.prototype.slice.call(document.querySelectorAll("[data-review-queue] [data-piece]")); }
  function current() {
    return currentId ? document.querySelector('[data-review-queue] [data-piece-id="' + currentId + '"]') : null;
  }
  function select(card, focus) {
    cards().forEach(function (c) { c.classList.toggle("is-current", c === card); });
    if (!card) { currentId = null; return; }
    currentId = card.getAttribute("data-piece-id");
    if (focus) {
      card.focus({ preventScroll: true });
      card.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
  }
  function move(step) {
    const list = cards();
    if (!list.length) return;
    const index = list.indexOf(current());
    const next = index < 0 ? list[0] : list[Math.min(list.length - 1, Math.max(0, index + step))];
    select(next, true);
  }
  function target() {
    const card = current() || cards()[0];
    if (card && !card.classList.contains("is-current")) select(card, true);
    return card;
  }
  function press(card, action, refusal) {
    const button = card && card.querySelector('[data-action="' + action + '"]');
    if (!button) { if (card && refusal) say(refusal); return; }
    if (button.disabled) {
      const why = button.getAttribute("aria-describedby");
      const note = why && document.getElementById(why);
      say(note ? note.textContent.trim() : refusal);
      return;
    }
    // HTMX wires up swapped-in content only after its settle delay (20 ms): a key pressed right after a card
    // was swapped would otherwise submit its form as a plain page post.
    if (window.htmx) window.htmx.process(card);
    button.click();
  }

  document.addEventListener("keydown", function (event) {
    if (!document.querySelector("[data-review-queue]")) return;
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const help = document.querySelector("[data-shortcut-help]");
    if (help && help.open) return;
    const key = event.key;
    if (key === "?") {
      if (help) { event.preventDefault(); help.showModal(); }
      return;
    }
    if (["j", "k", "a", "r", "e", "g", "x"].indexOf(key) < 0) return;
    event.preventDefault();
    if (key === "j" || key === "k") { move(key === "j" ? 1 : -1); return; }
    const card = target();
    if (!card) return;
    if (key === "a") press(card, "approve", "This piece cannot be approved in its current state.");
    else if (key === "e") press(card, "edit", "This piece cannot be edited (published pieces are unpublished first).");
    else if (key === "g") press(card, "regenerate", "This piece cannot be regenerated now.");
    else if (key === "x") {
      const box = card.querySelector("[data-bulk-select]");
      if (box && !box.disabled) box.checked = !box.checked;
      else say("Only pieces in review can be selected (not while they are being regenerated).");
    } else if (key === "r") {
      const details = card.querySelector("[data-reject]");
      if (!details) { say("This piece cannot be rejected now."); return; }
      details.open = true;
      const reason = details.querySelector("[data-reject-reason]");
      if (reason) reason.focus();
    }
  });

  document.addEventListener("click", function (event) {
    const open = event.target.closest("[data-shortcut-help-open]");
    if (open) {
      const help = document.querySelector("[data-shortcut-help]");
      if (help) help.showModal();
      return;
    }
    const card = event.target.closest("[data-review-queue] [data-piece]");
    if (card) select(card, false);
  });

  // Escape inside a reject reason closes the box and returns to the card, so j/k work again.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    const details = event.target.closest && event.target.closest("[data-reject][open]");
    if (!details) return;
    details.open = false;
    const card = details.closest("[data-piece]");
    if (card) card.focus({ preventScroll: true });
  });

  // Live "used / limit" counts in the edit form.
  function count(input) {
    const label = document.querySelector('[data-char-count-for="' + input.id + '"]');
    if (!label) return;
    // The channel's limit when it has one (an SMS: 160), else the most the field can store.
    const limit = parseInt(input.getAttribute("data-limit") || input.getAttribute("maxlength"), 10);
    const used = input.value.trim().length;
    label.textContent = used.toLocaleString("en") + (limit ? " / " + limit.toLocaleString("en") : "") + " characters";
    label.classList.toggle("is-over", Boolean(input.getAttribute("data-limit")) && used > limit);
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-count-chars]")) count(event.target);
  });

  // Enter in the bulk reject reason rejects the selected pieces (the form's first button would approve them).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.target.matches && event.target.matches("[data-bulk-reason]"))) return;
    event.preventDefault();
    const button = document.querySelector("[data-bulk-reject]");
    if (button) button.click();
  });

  // The picker's search box must not submit the campaign form on Enter.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.matches && event.target.matches("[data-picker-search]")) event.preventDefault();
  });

  // "Approve all passing on this page" sends the pieces that pass as the page shows them now (cards change
  // in place after edits and approvals); the server checks every one again. Without JS the page always
  // reloads, so the ids the server rendered are current.
  function passingIds() {
    return cards().map(function (c) { return c.querySelector("[data-bulk-select][data-passes]:not(:disabled)"); })
      .filter(Boolean).map(function (box) { return box.value; });
  }
  function refreshBulkBar() {
    const count = passingIds().length;
    document.querySelectorAll("[data-passing-count]").forEach(function (el) { el.textContent = String(count); });
    document.querySelectorAll("[data-approve-all]").forEach(function (button) { button.disabled = count === 0; });
  }
  document.addEventListener("htmx:configRequest", function (event) {
    const form = event.detail.elt;
    if (form && form.matches && form.matches("#bulk-approve-form") && event.detail.parameters.action === "page") {
      event.detail.parameters.page_ids = passingIds();
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    refreshBulkBar();
    document.querySelectorAll("[data-count-chars]").forEach(count);
  });

  // A card answers refusals (409), oversized uploads (413) and invalid input (422) with itself, carrying the explanation: swap it in.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const status = event.detail.xhr.status;
    const swapTarget = event.detail.target;
    if ((status === 409 || status === 413 || status === 422) && swapTarget && swapTarget.closest && swapTarget.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // After a swap, keep the keyboard selection on the same piece and put the cursor where the work is.
  document.addEventListener("htmx:afterSettle", function (event) {
    const swapped = event.target;
    document.querySelectorAll("[data-count-chars]").forEach(count);
    refreshBulkBar();
    if (!(swapped instanceof Element) || !swapped.matches("[data-review-queue] [data-piece]")) {
      if (currentId && current()) current().classList.add("is-current");
      return;
    }
    // htmx gives the focus back to the element with the same id, so a focused card is focused again here.
    const active = document.activeElement;
    const focusLost = !active || active === document.body || swapped.contains(active);
    if (!focusLost) {
      // Swapped by polling while the user works elsewhere: keep their focus where it is.
      if (swapped.getAttribute("data-piece-id") === currentId) swapped.classList.add("is-current");
      return;
    }
    // The user acted on this card (its old copy held the focus): it stays the current one.
    select(swapped, false);
    if (swapped.classList.contains("is-editing")) {
      const field = swapped.querySelector(".has-error [data-count-chars]") || swapped.querySelector("textarea[data-count-chars]") ||
        swapped.querySelector("[data-count-chars]");
      if (field) field.focus();
    } else if (swapped.querySelector("[data-reject][open]")) {
      const reason = swapped.querySelector("[data-reject-reason]");
      if (reason) reason.focus();
    } else {
      swapped.focus({ preventScroll: true });
    }
  });
})();
// ====================== end of Copy studio ======================
