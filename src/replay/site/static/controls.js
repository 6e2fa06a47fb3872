// The player controls of the session page (player.js) and the live page (live.js): the
// quality menu (hls.js's levels, highest first, and « Auto ») and the keyboard shortcuts
// listed on the page (#shortcuts). Loaded before either script.
window.replayControls = (function () {
  "use strict";

  function play(video) {
    var started = video.play();
    if (started && started.catch) { started.catch(function () { return null; }); }
  }

  function levelName(level) {
    return level.height ? level.height + "p" : Math.round(level.bitrate / 1000) + "\u00a0kbit/s";
  }

  // Fills the menu from this hls.js instance's levels (again when a new instance replaces
  // it: the live page makes one per take) and shows `box` when there is a choice.
  function offerLevels(hls, box, menu) {
    if (!box || !menu) { return; }
    while (menu.options.length > 1) { menu.remove(1); }
    menu.options[0].textContent = "Auto";
    if (hls.levels.length < 2) { box.hidden = true; return; }
    var order = hls.levels.map(function (level, i) { return i; });
    order.sort(function (a, b) { return hls.levels[b].bitrate - hls.levels[a].bitrate; });
    order.forEach(function (i) {
      var option = document.createElement("option");
      option.value = String(i);
      option.textContent = levelName(hls.levels[i]);
      menu.appendChild(option);
    });
    menu.value = "-1";
    menu.onchange = function () { hls.currentLevel = parseInt(menu.value, 10); };  // -1: automatic
    hls.on(window.Hls.Events.LEVEL_SWITCHED, function (event, data) {
      menu.options[0].textContent = "Auto (" + levelName(hls.levels[data.level]) + ")";
    });
    box.hidden = false;
  }

  function toggleCaptions(video) {
    var tracks = Array.prototype.slice.call(video.textTracks).filter(function (t) {
      return t.kind === "captions" || t.kind === "subtitles";
    });
    var showing = tracks.filter(function (t) { return t.mode === "showing"; });
    if (showing.length) {
      showing.forEach(function (t) { t.mode = "hidden"; });
    } else if (tracks.length) {
      tracks[0].mode = "showing";
    }
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName));
  }

  function toggleFullscreen(video) {
    if (document.fullscreenElement) { document.exitFullscreen(); }
    else if (video.requestFullscreen) { video.requestFullscreen().catch(function () { return null; }); }
  }

  // The shortcuts every player has, plus the page's own (`more`: key -> function), then
  // the list on the page is shown.
  function shortcuts(video, more) {
    var keys = {
      k: function () { if (video.paused) { play(video); } else { video.pause(); } },
      j: function () { video.currentTime = Math.max(0, video.currentTime - 10); },
      l: function () { video.currentTime = video.currentTime + 10; },
      c: function () { toggleCaptions(video); },
      m: function () { video.muted = !video.muted; },
      f: function () { toggleFullscreen(video); }
    };
    Object.keys(more || {}).forEach(function (key) { keys[key] = more[key]; });
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
      var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      if (event.key === "<" || event.key === ">") { key = event.key; }
      if (key === " ") {
        // A focused button, link or the video's own controls already answer the space bar.
        if (event.target !== document.body) { return; }
        key = "k";
      }
      if (!keys[key]) { return; }
      event.preventDefault();
      keys[key]();
    });
    var list = document.getElementById("shortcuts");
    if (list) { list.hidden = false; }
  }

  return { play: play, offerLevels: offerLevels, shortcuts: shortcuts };
})();
