// The reading rules' checks of replay.domain.cues.cue_warnings, in the browser. The limits
// are not kept here: the editor fetches them, as data, from the Python rules
// (GET /edition/regles-de-lecture.json, replay.web.reading_rules), and the unit test
// tests/e2e/test_reading_rules_browser.py runs these checks and the Python ones on the
// same table of cues.
"use strict";
window.ReadingRules = (function () {
  const NBSP = "\u00a0";
  const LINE_BREAK = /\r\n|\r|\n/;
  const BREAKABLE_SPACE = /[^\S\u00a0\u2007\u202f]+/;  // a non-breaking space joins words
  const TAG = /<[^<>\n]*>/g;

  function visible(text) { return text.replace(TAG, ""); }

  function length(text) { return Array.from(text).length; }  // code points, as Python's len

  function lines(text) { return text.split(LINE_BREAK).map((l) => l.trim()).filter((l) => visible(l).trim()); }

  function maxChars(rules, duration) {
    if (duration <= 0) return 0;
    const points = [[0, 0]].concat(rules.speed_points);
    for (let i = 1; i < points.length; i++) {
      const [d0, c0] = points[i - 1], [d1, c1] = points[i];
      if (duration <= d1) return Math.floor(c0 + (c1 - c0) * (duration - d0) / (d1 - d0) + rules.epsilon);
    }
    const [lastD, lastC] = points[points.length - 1];
    return Math.floor(lastC + rules.chars_per_second * (duration - lastD) + rules.epsilon);
  }

  function minimumDuration(rules, text) {
    const pieces = text.split(BREAKABLE_SPACE).filter((p) => p.trim());
    return pieces.length === 1 && rules.lone_word_min_duration !== null ? rules.lone_word_min_duration : rules.min_duration;
  }

  function seconds(value) { return value.toFixed(2).replace(/\.?0+$/, "").replace(".", ",") + NBSP + "s"; }

  // [{code, message}] for each rule `cue` ({start, end, text}) breaks, in the order and with
  // the codes of cue_warnings; `next` is the following cue or undefined.
  function check(rules, cue, next) {
    const tolerance = rules.tolerance;
    const rows = lines(cue.text);
    const text = visible(rows.join(" "));
    const chars = length(text);
    const duration = cue.end - cue.start;
    const minimum = minimumDuration(rules, text);
    const longest = Math.max(0, ...rows.map((l) => length(visible(l))));
    const out = [];
    const add = (code, message) => out.push({ code: code, message: message });
    if (!text.trim()) add("empty", "repère vide" + NBSP + ": saisissez son texte");
    if (rows.length > rules.max_lines) add("too_many_lines", "trop de lignes (" + rows.length + ", au plus " + rules.max_lines + ")");
    if (longest > rules.max_line_chars) add("line_too_long", "ligne trop longue (" + longest + " caractères, au plus " + rules.max_line_chars + ")");
    if (chars > maxChars(rules, duration + rules.epsilon)) add("reading_speed", "lecture trop rapide (" + chars + " caractères en " + seconds(duration) + ", au plus " + maxChars(rules, duration) + ")");
    if (duration < minimum - tolerance) add("too_short", "affiché trop peu de temps (" + seconds(duration) + ", au moins " + seconds(minimum) + ")");
    if (duration > rules.max_duration + tolerance) add("too_long", "affiché trop longtemps (" + seconds(duration) + ", au plus " + seconds(rules.max_duration) + ")");
    if (next && next.start < cue.end - tolerance) add("overlap", "chevauche le repère suivant");
    if (next) {
      const gap = next.start - cue.end;
      if (gap >= -tolerance && gap < rules.min_gap - tolerance) add("too_close", "trop près du repère suivant (écart de moins de " + seconds(rules.min_gap) + ")");
    }
    return out;
  }

  return { check: check, visible: visible, lines: lines, maxChars: maxChars };
})();
