// The « transcription en direct » panel of a live page: the words confirmed by the live
// captions, as they come. Server-sent events (EventSource) first; where they fail (no
// EventSource, or a proxy that buffers the stream), polling of the JSON feed instead.
// The panel is the element with data-live-transcript, data-events (the event stream's
// address) and data-poll (the JSON feed's); its status line has
// data-live-transcript-status. Looks come from live-transcript.css, never from inline styles.
(function () {
  "use strict";

  var MAX_PARAGRAPHS = 300;
  var FAILURES_BEFORE_POLLING = 2;
  var MESSAGES = {
    waiting: "En attente des premiers mots\u2026",
    live: "Transcription automatique en direct\u00a0: elle peut contenir des erreurs.",
    retrying: "Connexion perdue, nouvelle tentative\u2026",
    ended: "La transcription en direct est termin\u00e9e."
  };

  function Panel(element) {
    this.element = element;
    this.status = element.parentNode.querySelector("[data-live-transcript-status]");
    this.lastId = 0;
    this.paragraph = null;
    this.failures = 0;
    this.setStatus(MESSAGES.waiting);
  }

  Panel.prototype.setStatus = function (text) {
    if (this.status && this.status.textContent !== text) {
      this.status.textContent = text;
    }
  };

  Panel.prototype.atBottom = function () {
    var el = this.element;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  };

  Panel.prototype.add = function (entry) {
    if (!entry || typeof entry.id !== "number" || entry.id <= this.lastId) {
      return;
    }
    this.lastId = entry.id;
    var follow = this.atBottom();
    if (entry.paragraph || !this.paragraph) {
      this.paragraph = document.createElement("p");
      this.element.appendChild(this.paragraph);
      while (this.element.children.length > MAX_PARAGRAPHS) {
        this.element.removeChild(this.element.firstElementChild);
      }
    } else {
      this.paragraph.appendChild(document.createTextNode(" "));
    }
    var words = document.createElement("span");
    words.className = "live-transcript-words";
    words.textContent = entry.text;
    this.paragraph.appendChild(words);
    this.setStatus(MESSAGES.live);
    if (follow) {
      this.element.scrollTop = this.element.scrollHeight;
    }
  };

  Panel.prototype.listen = function () {
    var url = this.element.getAttribute("data-events");
    if (!url || typeof window.EventSource !== "function") {
      this.poll();
      return;
    }
    var panel = this;
    var source = new window.EventSource(url);
    source.addEventListener("mots", function (event) {
      panel.failures = 0;
      try {
        panel.add(JSON.parse(event.data));
      } catch (error) {
        // A malformed event is skipped; the next ones still show.
      }
    });
    source.addEventListener("open", function () {
      panel.failures = 0;
    });
    source.addEventListener("error", function () {
      panel.failures += 1;
      if (source.readyState === window.EventSource.CLOSED ||
          panel.failures >= FAILURES_BEFORE_POLLING) {
        source.close();
        panel.poll();
      } else {
        panel.setStatus(MESSAGES.retrying);
      }
    });
  };

  Panel.prototype.poll = function () {
    var url = this.element.getAttribute("data-poll");
    var panel = this;
    if (!url) {
      return;
    }
    function again(delay) {
      window.setTimeout(ask, delay);
    }
    function ask() {
      var separator = url.indexOf("?") === -1 ? "?" : "&";
      window.fetch(url + separator + "after=" + panel.lastId, {cache: "no-store"})
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (body) {
          (body.entries || []).forEach(function (entry) { panel.add(entry); });
          if (body.closed) {
            panel.setStatus(MESSAGES.ended);
            return;
          }
          if (panel.lastId === 0) {
            panel.setStatus(MESSAGES.waiting);
          }
          again(body.retry_ms || 3000);
        })
        .catch(function () {
          panel.setStatus(MESSAGES.retrying);
          again(5000);
        });
    }
    ask();
  };

  function start() {
    var panels = document.querySelectorAll("[data-live-transcript]");
    Array.prototype.forEach.call(panels, function (element) {
      new Panel(element).listen();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
