// The event's search page: loads search.json once, matches every word of the query in
// the transcripts (accent- and case-insensitive) and links each passage to its second;
// each passage's link can be copied (share.js).
(function () {
  "use strict";
  var results = document.getElementById("results");
  var status = document.getElementById("search-status");
  var form = document.querySelector("form.search");
  var input = document.getElementById("q");
  if (!results || !form || !input) { return; }
  var MAX_HITS = 200;
  var loading = null;

  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[’‘]/g, "'").toLowerCase();
  }

  // Folds one character at a time, remembering where each folded character came from,
  // so that a match in the folded text can be highlighted in the original.
  function foldWithOrigins(text) {
    var folded = "", origins = [], offset = 0;
    Array.from(text).forEach(function (ch) {
      var piece = fold(ch);
      for (var k = 0; k < piece.length; k++) { origins.push(offset); }
      folded += piece;
      offset += ch.length;
    });
    origins.push(offset);
    return { text: folded, origins: origins };
  }

  function load() {
    if (!loading) {
      loading = fetch(results.getAttribute("data-index")).then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      }).then(function (data) {
        data.sessions.forEach(function (session) {
          session.folded = session.segments.map(function (s) { return fold(s[1]); });
        });
        return data.sessions;
      });
    }
    return loading;
  }

  function clock(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    var mm = (m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    return h ? h + ":" + mm + ":" + ss : mm + ":" + ss;
  }

  function element(tag, text, attributes) {
    var node = document.createElement(tag);
    if (text) { node.textContent = text; }
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    return node;
  }

  function highlighted(text, terms) {
    var span = element("span"), mapped = foldWithOrigins(text), marks = [];
    terms.forEach(function (term) {
      var at = mapped.text.indexOf(term);
      if (at >= 0) { marks.push([mapped.origins[at], mapped.origins[at + term.length]]); }
    });
    marks.sort(function (a, b) { return a[0] - b[0]; });
    var position = 0;
    marks.forEach(function (mark) {
      if (mark[0] < position) { return; }
      span.appendChild(document.createTextNode(text.slice(position, mark[0])));
      span.appendChild(element("mark", text.slice(mark[0], mark[1])));
      position = mark[1];
    });
    span.appendChild(document.createTextNode(text.slice(position)));
    return span;
  }

  function find(sessions, terms) {
    var found = [], total = 0;
    sessions.forEach(function (session) {
      var hits = [];
      session.folded.forEach(function (text, i) {
        if (total < MAX_HITS && terms.every(function (t) { return text.indexOf(t) >= 0; })) {
          hits.push(session.segments[i]);
          total++;
        }
      });
      if (hits.length) { found.push({ session: session, hits: hits }); }
    });
    return { sessions: found, total: total };
  }

  function renderSession(result, terms) {
    var slug = result.session.slug, section = element("section", "", { "class": "result" });
    var heading = element("h2");
    heading.appendChild(element("a", result.session.title, { href: slug + "/index.html" }));
    section.appendChild(heading);
    if (result.session.speakers) {
      section.appendChild(element("p", "Avec " + result.session.speakers, { "class": "meta" }));
    }
    var list = element("ul", "", { "class": "hits" });
    result.hits.forEach(function (hit) {
      var item = element("li");
      item.appendChild(element("a", clock(hit[0]), { href: slug + "/index.html#t=" + hit[0], "class": "time" }));
      item.appendChild(document.createTextNode(" "));
      item.appendChild(highlighted(hit[1], terms));
      var share = element("button", "Partager", {
        type: "button", "class": "share-hit", "aria-label": "Partager le lien vers " + clock(hit[0])
      });
      share.addEventListener("click", function () {
        var sharing = window.replayShare;
        sharing.copyLink(sharing.linkAt(slug + "/index.html", hit[0]));
      });
      item.appendChild(share);
      list.appendChild(item);
    });
    section.appendChild(list);
    return section;
  }

  function summary(found, query) {
    var quoted = "«\u00a0" + query + "\u00a0»";
    if (!found.total) { return "Aucun passage ne contient " + quoted + "."; }
    var passages = found.total + (found.total > 1 ? "\u00a0passages" : "\u00a0passage");
    var sessions = found.sessions.length + (found.sessions.length > 1 ? "\u00a0sessions" : "\u00a0session");
    var more = found.total >= MAX_HITS ? " (les " + MAX_HITS + "\u00a0premiers)" : "";
    return passages + more + " dans " + sessions + " pour " + quoted + ".";
  }

  function search(query) {
    var terms = fold(query).split(/\s+/).filter(Boolean);
    results.textContent = "";
    if (!terms.length) { status.textContent = ""; return; }
    status.textContent = "Recherche en cours…";
    load().then(function (sessions) {
      var found = find(sessions, terms);
      found.sessions.forEach(function (result) { results.appendChild(renderSession(result, terms)); });
      status.textContent = summary(found, query.trim());
    }).catch(function () {
      status.textContent = "L’index de recherche n’a pas pu être chargé.";
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    window.history.replaceState(null, "", "?q=" + encodeURIComponent(input.value));
    search(input.value);
  });
  var initial = new URLSearchParams(window.location.search).get("q");
  if (initial) {
    input.value = initial;
    search(initial);
  }
})();
