// Sharing a link to a second of a replay, on the session page (player.js) and the search
// page (search.js): copied to the clipboard where the browser allows it, and said in
// #share-status, where the link is shown to copy by hand otherwise. Loaded before either.
window.replayShare = (function () {
  "use strict";

  function say(text) {
    var status = document.getElementById("share-status");
    if (status) { status.textContent = text; }
  }

  // The address of `page` (relative to this one) at that second.
  function linkAt(page, seconds) {
    var address = new URL(page, window.location.href).href.replace(/#.*$/, "");
    return address + "#t=" + Math.floor(seconds);
  }

  function copyLink(link) {
    function shown(copied) { say((copied ? "Lien copié\u00a0: " : "Copiez ce lien\u00a0: ") + link); }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(link).then(function () { shown(true); },
                                               function () { shown(false); });
    } else {
      shown(false);
    }
  }

  return { say: say, linkAt: linkAt, copyLink: copyLink };
})();
