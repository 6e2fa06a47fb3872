// The session page: HLS natively or through hls.js (loaded only when needed), the MP4
// otherwise; the transcript follows playback, seeks on click and can be searched;
// "#t=SECONDS" starts playback at that second.
(function () {
  "use strict";
  var video = document.getElementById("player");
  if (!video) { return; }
  var source = video.getAttribute("data-hls");
  var library = video.getAttribute("data-hls-js");

  function play() {
    var started = video.play();
    if (started && started.catch) { started.catch(function () { return null; }); }
  }

  function startAtHash() {
    var match = /^#t=(\d+(?:\.\d+)?)$/.exec(window.location.hash);
    if (!match) { return; }
    video.currentTime = parseFloat(match[1]);
    play();  // browsers may refuse without a gesture: the position is set all the same
  }

  function whenReady() {
    if (video.readyState >= 1) { startAtHash(); return; }
    video.addEventListener("loadedmetadata", startAtHash, { once: true });
  }

  function attachHls() {
    if (!window.Hls || !window.Hls.isSupported()) { whenReady(); return; }
    // The page's own <track> elements carry the subtitles: hls.js must not add duplicates.
    var hls = new window.Hls({ enableWebVTT: false, capLevelToPlayerSize: true });
    video.addEventListener("loadedmetadata", startAtHash, { once: true });
    hls.loadSource(source);
    hls.attachMedia(video);
  }

  if (source && video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = source;
    whenReady();
  } else if (source && library && window.MediaSource) {
    var script = document.createElement("script");
    script.src = library;
    script.onload = attachHls;
    script.onerror = whenReady;  // the MP4 <source> plays instead
    document.head.appendChild(script);
  } else {
    whenReady();
  }
  window.addEventListener("hashchange", startAtHash);

  var lines = Array.prototype.slice.call(document.querySelectorAll("#transcript li"));
  var starts = lines.map(function (li) { return parseFloat(li.getAttribute("data-start")); });
  var current = -1;
  video.addEventListener("timeupdate", function () {
    var t = video.currentTime, index = -1;
    for (var i = 0; i < starts.length && starts[i] <= t; i++) { index = i; }
    if (index === current) { return; }
    if (current >= 0) { lines[current].classList.remove("current"); }
    if (index >= 0) { lines[index].classList.add("current"); }
    current = index;
  });
  lines.forEach(function (li, i) {
    li.querySelector("a").addEventListener("click", function (event) {
      event.preventDefault();
      video.currentTime = starts[i];
      play();
    });
  });

  // Search within the transcript: accent- and case-insensitive, keeps matching passages.
  var form = document.getElementById("transcript-search");
  if (!form) { return; }
  var query = document.getElementById("transcript-query");
  var count = document.getElementById("transcript-count");
  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[’‘]/g, "'").toLowerCase();
  }
  var texts = lines.map(function (li) { return fold(li.querySelector("span").textContent); });
  function filter() {
    var terms = fold(query.value).split(/\s+/).filter(Boolean), shown = 0;
    lines.forEach(function (li, i) {
      var hit = terms.every(function (term) { return texts[i].indexOf(term) >= 0; });
      li.hidden = !hit;
      if (hit) { shown++; }
    });
    count.textContent = terms.length ? shown + (shown > 1 ? "\u00a0passages" : "\u00a0passage") : "";
  }
  form.hidden = false;
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  query.addEventListener("input", filter);
})();
