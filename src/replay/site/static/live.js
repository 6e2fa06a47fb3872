// The live pages. On a room's page: the live HLS (natively or through hls.js, loaded only
// when needed), kept a few seconds behind the live edge (more when the live captions need
// it: status.json's player_delay, measured by the service), and the room's status.json polled
// for « on air », the current and next sessions and the day's replays, so that they change
// without a reload; the quality menu and keyboard shortcuts of controls.js (no speed
// control: a live plays at most in real time, and hls.js would bring a slowed player back
// to the edge as soon as it fell liveMaxLatencyDuration behind). On the event's index:
// which rooms are live now (direct/rooms.json).
(function () {
  "use strict";
  var POLL_MS = 5000;

  function getJSON(url, done) {
    var request = new XMLHttpRequest();
    request.open("GET", url + (url.indexOf("?") < 0 ? "?" : "&") + "t=" + Date.now());
    request.responseType = "json";
    request.onload = function () { if (request.status === 200 && request.response) { done(request.response); } };
    request.send();
  }

  function text(id, value) {
    var node = document.getElementById(id);
    if (node.textContent !== value) { node.textContent = value; }
  }

  function show(id, visible) { document.getElementById(id).hidden = !visible; }

  function roomsIndex(list) {
    getJSON(list.getAttribute("data-rooms"), function (data) {
      var live = (data.rooms || []).filter(function (room) { return room.on_air; });
      list.textContent = "";
      (data.rooms || []).forEach(function (room) {
        var item = document.createElement("li"), link = document.createElement("a");
        link.href = room.url;
        link.textContent = room.room + (room.on_air ? "\u00a0: en direct" : "\u00a0: hors antenne");
        item.appendChild(link);
        list.appendChild(item);
      });
      document.getElementById("direct").hidden = !(data.rooms || []).length;
      text("direct-summary", live.length ? (live.length > 1 ? live.length + "\u00a0salles sont en direct." : "Une salle est en direct.") : "Aucune salle n’est en direct pour l’instant.");
    });
  }

  var index = document.getElementById("direct-rooms");
  if (index) {
    roomsIndex(index);
    window.setInterval(function () { roomsIndex(index); }, POLL_MS * 2);
    return;
  }

  var main = document.querySelector("main.live");
  var video = document.getElementById("live-player");
  if (!main || !video) { return; }
  var delay = parseFloat(main.getAttribute("data-live-delay")) || 6;
  var library = main.getAttribute("data-hls-js");
  var source = null, hls = null;

  function state(message) { text("live-state", message); }

  var controls = window.replayControls;

  function play() { controls.play(video); }

  // hls.js where Media Source Extensions exist (its live delay and captions are ours to
  // set); the browser's own HLS otherwise (Safari on iPhone).
  function attach(url) {
    source = url;
    if (!(window.Hls && window.Hls.isSupported()) && video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url;
      play();
    } else if (window.Hls && window.Hls.isSupported()) {
      hls = new window.Hls({ liveSyncDuration: delay, liveMaxLatencyDuration: delay * 2 + 4,
                             enableWebVTT: true, renderTextTrackCues: true,
                             capLevelToPlayerSize: true, manifestLoadingMaxRetry: 20,
                             levelLoadingMaxRetry: 20, fragLoadingMaxRetry: 20 });
      hls.on(window.Hls.Events.ERROR, function (event, data) {
        if (!data.fatal) { return; }
        if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); return; }
        window.setTimeout(function () { hls.startLoad(); }, 2000);
      });
      hls.on(window.Hls.Events.SUBTITLE_TRACKS_UPDATED, function () {
        if (hls.subtitleTracks.length) { hls.subtitleTrack = 0; hls.subtitleDisplay = true; }
      });
      // A viewer who joins as the live starts gets a playlist shorter than the delay: hls.js
      // then starts at its first segment, closer to the edge than the captions allow, and
      // never steps back. Step back once the playlist is long enough.
      hls.on(window.Hls.Events.LEVEL_UPDATED, keepDelay);
      hls.loadSource(url);
      hls.attachMedia(video);
      window.replayLive = { hls: hls };  // for the curious (and the tests): hls.latency
      hls.on(window.Hls.Events.MANIFEST_PARSED, function () {
        controls.offerLevels(hls, document.getElementById("quality-box"),
                             document.getElementById("quality"));
        play();
      });
    } else {
      state("Votre navigateur ne sait pas lire le direct\u00a0: essayez un navigateur récent.");
    }
  }

  function keepDelay() {
    var target = hls.liveSyncPosition, latency = hls.latency;
    if (target === null || target === undefined || !latency || video.paused || video.seeking) { return; }
    var wanted = video.currentTime + latency - hls.targetLatency;
    if (target > wanted + 0.5) { return; }  // the playlist does not reach that far back yet
    if (video.currentTime - target > 1.5) { video.currentTime = target; }
  }

  function needLibrary(then) {
    if (window.Hls || !library || !(window.MediaSource || window.ManagedMediaSource)) { then(); return; }
    var script = document.createElement("script");
    script.src = library;
    script.onload = then;
    script.onerror = then;
    document.head.appendChild(script);
  }

  function describe(session) {
    return session.start_label + "\u2013" + session.end_label + (session.speakers ? " · " + session.speakers : "");
  }

  function programme(status) {
    show("now", !!status.current);
    if (status.current) { text("now-title", status.current.title); text("now-meta", describe(status.current)); }
    show("next", !!status.next);
    if (status.next) { text("next-title", status.next.title); text("next-meta", status.next.day_label + ", " + describe(status.next)); }
    show("off-air", !status.on_air);
    text("off-air", status.next ? "La salle est hors antenne. Prochaine session\u00a0: «\u00a0" + status.next.title + "\u00a0», à " + status.next.start_label + "." : "La salle est hors antenne\u00a0: aucune autre session n’est prévue.");
  }

  function replays(status) {
    var list = document.getElementById("replays");
    var wanted = status.replays.map(function (r) { return r.url + "|" + r.live_replay; }).join(",");
    if (list.getAttribute("data-shown") === wanted) { return; }
    list.setAttribute("data-shown", wanted);
    list.textContent = "";
    status.replays.forEach(function (replay) {
      var item = document.createElement("li"), link = document.createElement("a");
      link.href = replay.url;
      link.textContent = replay.start_label + " · " + replay.title;
      item.appendChild(link);
      if (replay.live_replay) {
        var label = document.createElement("span");
        label.className = "live-replay";
        label.textContent = "Rediffusion du direct";
        item.appendChild(document.createTextNode(" "));
        item.appendChild(label);
      }
      list.appendChild(item);
    });
    show("no-replays", !status.replays.length);
  }

  function update(status) {
    show("on-air", status.on_air);
    programme(status);
    replays(status);
    if (status.live && status.live !== source) {
      state("En direct.");
      // The captions must reach their playlist before the player reaches their moment.
      if (status.player_delay && status.player_delay > delay) { delay = status.player_delay; }
      needLibrary(function () { attach(status.live); });
    } else if (!status.live && !source) {
      state("La salle n’est pas en direct pour l’instant.");
    } else if (!status.on_air) {
      state("Le direct est interrompu\u00a0: la lecture reprend dès son retour.");
    } else {
      state("En direct.");
    }
    if (hls && status.player_delay && status.player_delay > delay) {
      // The captions got later while playing: the player steps back with them.
      delay = status.player_delay;
      hls.config.liveSyncDuration = delay;
      hls.config.liveMaxLatencyDuration = delay * 2 + 4;
    }
  }

  document.getElementById("live-edge").addEventListener("click", function () {
    if (hls && hls.liveSyncPosition) { video.currentTime = hls.liveSyncPosition; }
    play();
  });
  video.addEventListener("timeupdate", function () {
    var behind = hls && hls.liveSyncPosition ? hls.liveSyncPosition - video.currentTime : 0;
    show("live-back", behind > delay * 2);
  });
  // Forward no further than the live delay behind the edge (the captions need it).
  controls.shortcuts(video, { l: function () {
    var edge = hls && hls.liveSyncPosition ? hls.liveSyncPosition : Infinity;
    video.currentTime = Math.min(video.currentTime + 10, edge);
  } });
  var statusUrl = main.getAttribute("data-status");
  function poll() { getJSON(statusUrl, update); }
  poll();
  window.setInterval(poll, POLL_MS);
})();
