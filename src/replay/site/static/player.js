// The session page: HLS natively or through hls.js (loaded only when needed), the MP4
// otherwise; "#t=SECONDS" starts playback at that second. The transcript follows playback
// until the viewer scrolls it, seeks on click and can be searched; links to the current
// second (or a line's) can be copied; speed, and the quality menu and keyboard shortcuts
// of controls.js.
(function () {
  "use strict";
  var video = document.getElementById("player");
  if (!video) { return; }
  var controls = window.replayControls;
  var source = video.getAttribute("data-hls");
  var library = video.getAttribute("data-hls-js");
  var hls = null;

  function play() { controls.play(video); }

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
    hls = new window.Hls({ enableWebVTT: false, capLevelToPlayerSize: true });
    video.addEventListener("loadedmetadata", startAtHash, { once: true });
    hls.on(window.Hls.Events.MANIFEST_PARSED, function () {
      controls.offerLevels(hls, document.getElementById("quality-box"),
                           document.getElementById("quality"));
    });
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

  // -- share at a time (share.js) -----------------------------------------------------
  function share(seconds) {
    var sharing = window.replayShare;
    sharing.copyLink(sharing.linkAt(window.location.href, seconds));
  }

  // The embed code names the embed page by its full address, wherever the site is served.
  var embedCode = document.getElementById("embed-code");
  var copyEmbed = document.getElementById("copy-embed");
  if (embedCode) {
    var embedPage = embedCode.getAttribute("data-embed");
    var embedUrl = new URL(embedPage, window.location.href.replace(/#.*$/, "")).href;
    embedCode.value = embedCode.value.replace('src="' + embedPage + '"', 'src="' + embedUrl + '"');
  }
  if (copyEmbed && embedCode && navigator.clipboard) {
    copyEmbed.hidden = false;
    copyEmbed.addEventListener("click", function () {
      navigator.clipboard.writeText(embedCode.value).then(function () {
        window.replayShare.say("Code d’intégration copié.");
      }, function () { embedCode.select(); });
    });
  }

  var shareNow = document.getElementById("share-now");
  if (shareNow) {
    shareNow.addEventListener("click", function () { share(video.currentTime); });
  }

  // -- speed ----------------------------------------------------------------------------
  var speed = document.getElementById("speed");
  function setSpeed() { video.playbackRate = parseFloat(speed.value); }
  if (speed) { speed.addEventListener("change", setSpeed); }
  function stepSpeed(step) {
    if (!speed) { return; }
    var index = Math.min(speed.options.length - 1, Math.max(0, speed.selectedIndex + step));
    speed.selectedIndex = index;
    setSpeed();
  }

  // -- the transcript: follows playback until the viewer scrolls it -----------------------
  var list = document.getElementById("transcript");
  var follow = document.getElementById("follow");
  var lines = Array.prototype.slice.call(document.querySelectorAll("#transcript li"));
  var starts = lines.map(function (li) { return parseFloat(li.getAttribute("data-start")); });
  var current = -1, following = true, placed = null;

  function reveal(index) {
    if (!list || index < 0 || !following) { return; }
    var line = lines[index];
    var top = line.offsetTop - list.offsetTop, bottom = top + line.offsetHeight;
    if (top < list.scrollTop || bottom > list.scrollTop + list.clientHeight) {
      list.scrollTop = Math.max(0, top - list.clientHeight / 3);
    }
    placed = list.scrollTop;
  }

  function refollow() {
    following = true;
    if (follow) { follow.hidden = true; }
    reveal(current);
  }

  if (list) {
    placed = list.scrollTop;
    list.addEventListener("scroll", function () {
      // Our own scrolling lands where `reveal` put it; anything else is the viewer's.
      if (placed !== null && Math.abs(list.scrollTop - placed) <= 1) { return; }
      following = false;
      if (follow) { follow.hidden = false; }
    });
  }
  if (follow) { follow.addEventListener("click", refollow); }

  video.addEventListener("timeupdate", function () {
    var t = video.currentTime, index = -1;
    for (var i = 0; i < starts.length && starts[i] <= t; i++) { index = i; }
    if (index === current) { return; }
    if (current >= 0) { lines[current].classList.remove("current"); }
    if (index >= 0) { lines[index].classList.add("current"); }
    current = index;
    reveal(index);
  });
  lines.forEach(function (li, i) {
    var link = li.querySelector("a");
    link.addEventListener("click", function (event) {
      event.preventDefault();
      video.currentTime = starts[i];
      play();
    });
    var button = document.createElement("button");
    button.type = "button";
    button.className = "share-line";
    button.textContent = "Partager";
    button.setAttribute("aria-label", "Partager le lien vers " + link.textContent);
    button.addEventListener("click", function () { share(starts[i]); });
    li.appendChild(button);
  });

  // Chapters: each entry seeks to its start (even when the address already names it).
  Array.prototype.forEach.call(document.querySelectorAll("#chapters li"), function (li) {
    li.querySelector("a").addEventListener("click", function (event) {
      event.preventDefault();
      video.currentTime = parseFloat(li.getAttribute("data-start"));
      play();
    });
  });

  // -- keyboard shortcuts (listed on the page): the players' own, and the speed --------
  controls.shortcuts(video, { "<": function () { stepSpeed(-1); },
                              ">": function () { stepSpeed(1); } });
  var controlBar = document.getElementById("controls");
  if (controlBar) { controlBar.hidden = false; }

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
