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
