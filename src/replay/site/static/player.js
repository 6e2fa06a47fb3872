// The session page: HLS through hls.js (or natively), MP4 otherwise; the transcript
// follows playback and seeks on click; "#t=SECONDS" starts at that second.
(function () {
  "use strict";
  var video = document.getElementById("player");
  if (!video) { return; }
  var source = video.getAttribute("data-hls");

  function startAtHash() {
    var match = /^#t=(\d+(?:\.\d+)?)$/.exec(window.location.hash);
    if (match) { video.currentTime = parseFloat(match[1]); }
  }

  if (source && video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = source;
  } else if (source && window.Hls && window.Hls.isSupported()) {
    // The page's own <track> elements carry the subtitles: hls.js must not add duplicates.
    var hls = new window.Hls({ enableWebVTT: false, capLevelToPlayerSize: true });
    hls.loadSource(source);
    hls.attachMedia(video);
  }
  video.addEventListener("loadedmetadata", startAtHash, { once: true });
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
      video.play();
    });
  });
})();
