/* ProVconnect sign-in: progressive enhancements. No framework, CSP-safe. */
(function () {
  "use strict";

  var COPY_OK = "Copied";
  var COPY_FAILED = "Copy failed: select the key and copy it";
  var COPY_SELECTED = "Key selected: press Ctrl+C (\u2318C on a Mac) to copy it";

  function isElement(node) {
    return !!node && node.nodeType === 1;
  }

  // All elements matching selector in root, root itself included.
  function findAll(root, selector) {
    if (!root || typeof root.querySelectorAll !== "function") return [];
    var found = Array.prototype.slice.call(root.querySelectorAll(selector));
    if (isElement(root) && root.matches(selector)) found.unshift(root);
    return found;
  }

  // a. Copy buttons ship hidden (useless without JS); reveal them.
  function revealCopyButtons(root) {
    findAll(root, "button[data-copy-text]").forEach(function (button) {
      button.hidden = false;
    });
  }

  function setStatus(button, text) {
    var status = document.getElementById(button.getAttribute("data-copy-status") || "");
    if (!status) return;
    // Clear first so a repeated identical message is announced again.
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 50);
  }

  function selectSecretKey(button) {
    var panel = button.closest(".panel") || document;
    var key = panel.querySelector("[data-secret-key]");
    var selection = window.getSelection ? window.getSelection() : null;
    if (!key || !selection || !document.createRange) return false;
    var range = document.createRange();
    range.selectNodeContents(key);
    selection.removeAllRanges();
    selection.addRange(range);
    return true;
  }

  function copy(button) {
    var text = button.getAttribute("data-copy-text") || "";
    var clipboard = navigator.clipboard;
    if (!clipboard || typeof clipboard.writeText !== "function") {
      setStatus(button, selectSecretKey(button) ? COPY_SELECTED : COPY_FAILED);
      return;
    }
    var done = function () { setStatus(button, COPY_OK); };
    var failed = function () { setStatus(button, COPY_FAILED); };
    try {
      clipboard.writeText(text).then(done, failed);
    } catch (err) {
      failed();
    }
  }

  document.addEventListener("click", function (event) {
    var button = isElement(event.target) && event.target.closest("button[data-copy-text]");
    if (button) copy(button);
  });

  // b. PIN / recovery-code boxes: drop characters people paste in by habit.
  function clean(input, pattern) {
    var value = input.value;
    var cleaned = value.replace(pattern, "");
    if (cleaned === value) return;
    var caret = null;
    try { caret = input.selectionStart; } catch (err) { caret = null; }
    input.value = cleaned;
    if (caret === null || caret === undefined) return;
    var position = value.slice(0, caret).replace(pattern, "").length;
    try { input.setSelectionRange(position, position); } catch (err) { /* unsupported type */ }
  }

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!isElement(input) || event.isComposing) return;
    if (input.hasAttribute("data-pin")) clean(input, /[\s-]/g);
    else if (input.hasAttribute("data-recovery-code")) clean(input, /\s/g);
  });

  // c. After htmx settles new content, move focus into it (unless opted out).
  function hasNoFocus(el) {
    return isElement(el) && el.hasAttribute("data-no-focus");
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var detail = event.detail || {};
    var root = isElement(event.target) ? event.target : detail.elt;
    if (!isElement(root) || hasNoFocus(root) || hasNoFocus(detail.target)) return;
    var focusable = findAll(root, "[data-autofocus]")[0] || findAll(root, "[data-focus-target]")[0];
    if (focusable && typeof focusable.focus === "function") focusable.focus();
  });

  // One-time setup for the first page and for every piece htmx swaps in.
  document.addEventListener("htmx:load", function (event) {
    revealCopyButtons(event.target);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { revealCopyButtons(document); });
  } else {
    revealCopyButtons(document);
  }
})();
