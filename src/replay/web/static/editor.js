// The caption editor of one session: the video beside the French and English cue lists,
// live reading-rule warnings (replay.domain.cues' rules, fetched as data), words Whisper was unsure
// of, autosave with If-Match (a 409 opens the conflict dialog, never a silent
// overwrite), history with diffs and revert, workflow, claims, find and replace with the
// event's glossary; the cues being edited shown on the video, the active cue played in a
// loop on demand, the video paused while the editor types, and a waveform (wavesurfer.js)
// whose regions move the cues. Caption text only ever reaches the page through textContent.
"use strict";
(function () {
  const NBSP = "\u00a0";
  const SAVE_DELAY_MS = 1500;
  const NUDGE = 0.1;
  const root = document.getElementById("editeur");
  if (!root) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const base = "/api/captions/" + root.dataset.recording + "/" + encodeURIComponent(root.dataset.guid) + "/";
  const slug = root.dataset.event;
  const userId = Number(root.dataset.user);
  const video = document.getElementById("video");
  const saveState = document.getElementById("etat-enregistrement");
  const LANGS = ["fr", "en"];
  const STATUS_LABELS = { brouillon_automatique: "brouillon automatique", en_relecture: "en relecture",
                          valide: "validé", publie: "publié" };
  const state = {};  // lang -> {cues, etag, version, status, low, reviewedUntil, dirty, timer, saving, error}
  let active = { lang: "fr", index: 0 };
  let conflict = null;  // {lang, data}

  // -- reading rules (served by the Python rules, checked by reading-rules.js) --------------

  const RULES_URL = "/edition/regles-de-lecture.json";
  let RULES = null;  // lang -> the rules of replay.domain.cues.rules_data, once fetched

  async function loadRules() {
    try {
      const response = await fetch(RULES_URL, { headers: { Accept: "application/json" } });
      if (response.ok) RULES = await response.json();
    } catch (error) { RULES = null; }
  }

  function visible(text) { return window.ReadingRules.visible(text); }

  function cueWarnings(lang, cue, next) {
    if (!RULES || !RULES[lang]) return [];
    return window.ReadingRules.check(RULES[lang], cue, next).map((w) => w.message);
  }

  // -- French formatting of times ------------------------------------------------------------

  function two(n) { return String(n).padStart(2, "0"); }

  function seconds(value) { return value.toFixed(2).replace(/\.?0+$/, "").replace(".", ",") + NBSP + "s"; }

  function stamp(value) {  // 01:02,500 (or 1:01:02,500)
    const ms = Math.round(Math.max(0, value) * 1000);
    const h = Math.floor(ms / 3600000), m = Math.floor(ms / 60000) % 60, s = Math.floor(ms / 1000) % 60;
    const rest = two(m) + ":" + two(s) + "," + String(ms % 1000).padStart(3, "0");
    return h ? h + ":" + rest : rest;
  }

  function mmss(value) { const t = Math.floor(value); return two(Math.floor(t / 60)) + ":" + two(t % 60); }

  function parseStamp(text) {
    const match = /^\s*(?:(\d+):)?(?:(\d{1,2}):)?(\d{1,2}(?:[.,]\d{1,3})?)\s*$/.exec(text);
    if (!match) return null;
    const parts = [match[1], match[2]].filter((p) => p !== undefined).map(Number);
    const secs = Number(match[3].replace(",", "."));
    const mins = parts.length ? parts[parts.length - 1] : 0, hours = parts.length === 2 ? parts[0] : 0;
    return hours * 3600 + mins * 60 + secs;
  }

  function dateTime(value) {
    const when = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    return when.toLocaleString("fr-FR", { dateStyle: "long", timeStyle: "short" });
  }

  // -- DOM helpers ---------------------------------------------------------------------------

  function el(name, attributes, text) {
    const node = document.createElement(name);
    Object.entries(attributes || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function byId(id) { return document.getElementById(id); }

  function say(text) { saveState.textContent = text; }

  async function api(method, url, body, headers) {
    const init = { method, headers: Object.assign({ "X-CSRF-Token": csrf, "Accept": "application/json" }, headers || {}),
                   credentials: "same-origin" };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    let response;
    try { response = await fetch(url, init); } catch (error) {
      return { ok: false, status: 0, data: { error: "Réseau indisponible" + NBSP + ": nouvel essai à la prochaine modification." } };
    }
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    return { ok: response.ok, status: response.status, data, etag: response.headers.get("ETag") };
  }

  // -- loading and rendering -----------------------------------------------------------------

  function adopt(lang, data, etag) {
    const s = state[lang] || {};
    state[lang] = Object.assign(s, {
      cues: data.cues.map((c) => ({ start: c.start, end: c.end, text: c.text })),
      etag: etag || '"v' + data.version + '"', version: data.version, status: data.status,
      low: data.low_confidence || [], reviewedUntil: data.reviewed_until, claimedBy: data.claimed_by,
      dirty: false, error: "" });
  }

  async function load(lang) {
    const { ok, data, etag } = await api("GET", base + lang);
    if (!ok) { say(data.error || "Sous-titres indisponibles."); return false; }
    adopt(lang, data, etag);
    renderList(lang);
    return true;
  }

  function listOf(lang) { return byId("reperes-" + lang); }

  // -- the captions being edited, on the video while it plays ---------------------------------

  const onVideo = {};  // lang -> TextTrack made from the cues as they are being edited
  const TRACK_LABELS = { fr: "Français (en cours d’édition)", en: "Anglais (en cours d’édition)" };

  function showOnVideo(lang) {
    if (!video.addTextTrack || !window.VTTCue) return;
    if (!onVideo[lang]) onVideo[lang] = video.addTextTrack("captions", TRACK_LABELS[lang], lang);
    const track = onVideo[lang];
    track.mode = "hidden";
    Array.from(track.cues || []).forEach((cue) => track.removeCue(cue));
    state[lang].cues.forEach((cue) => {
      if (cue.end > cue.start) track.addCue(new VTTCue(cue.start, cue.end, visible(cue.text).trim()));
    });
    LANGS.filter((l) => onVideo[l]).forEach((l) => { onVideo[l].mode = l === active.lang ? "showing" : "disabled"; });
  }

  // -- the waveform (wavesurfer.js), the cues of the language edited as draggable regions -----

  let regions = null;

  async function startWaveform() {
    const note = byId("onde-etat");
    if (!window.WaveSurfer || !window.WaveSurfer.Regions) { note.textContent = "Forme d’onde indisponible" + NBSP + ": wavesurfer.js n’est pas installé."; return; }
    const { ok, data } = await api("GET", "/edition/" + root.dataset.recording + "/" + encodeURIComponent(root.dataset.guid) + "/forme-onde.json");
    if (!ok) { note.textContent = data.error || "Forme d’onde indisponible."; return; }
    regions = window.WaveSurfer.Regions.create();
    const surfer = window.WaveSurfer.create({
      container: byId("forme-onde"), media: video, peaks: [data.peaks], duration: data.duration,
      height: 72, minPxPerSec: 40, normalize: true, waveColor: "#7b8596", progressColor: "#00508f",
      cursorColor: "#b00020", cspNonce: root.dataset.styleNonce, plugins: [regions] });
    // A long session scrolls sideways: keyboard users reach and scroll it too.
    const scroller = surfer.getWrapper().parentElement;
    if (scroller) {
      scroller.tabIndex = 0;
      scroller.setAttribute("role", "region");
      scroller.setAttribute("aria-label", "Forme d’onde de la séance (défilement horizontal)");
    }
    regions.on("region-updated", movedOnWaveform);
    showRegions();
    root.dataset.waveform = "oui";
  }

  function showRegions() {
    if (!regions || !state[active.lang]) return;
    regions.clearRegions();
    const lang = active.lang;
    state[lang].cues.forEach((cue, i) => regions.addRegion({
      id: lang + "-" + i, start: cue.start, end: cue.end, drag: true, resize: true,
      content: visible(cue.text).split("\n")[0].slice(0, 40), color: "rgba(0, 80, 143, 0.18)" }));
  }

  function movedOnWaveform(region) {
    const [lang, number] = region.id.split("-");
    const index = Number(number), cues = state[lang] && state[lang].cues, cue = cues && cues[index];
    if (!cue) return;
    cue.start = Math.round(region.start * 1000) / 1000;
    cue.end = Math.round(region.end * 1000) / 1000;
    const before = cues[index - 1], after = cues[index + 1];
    if ((before && before.start > cue.start) || (after && after.start < cue.start)) reorder(lang);
    else {
      byId("repere-" + lang + "-" + index + "-start").value = stamp(cue.start);
      byId("repere-" + lang + "-" + index + "-end").value = stamp(cue.end);
      refreshCue(lang, index);
      refreshWarning(lang, index + 1);
      showOnVideo(lang);
    }
    setActive(lang, index);
    edited(lang);
  }

  function renderList(lang) {
    const list = listOf(lang);
    list.replaceChildren(...state[lang].cues.map((cue, i) => cueItem(lang, i)));
    showOnVideo(lang);
    alignRows();
    if (lang === active.lang) showRegions();
    refreshWarnings(lang);
    refreshSummary();
    highlight();
  }

  function cueItem(lang, index) {
    const cue = state[lang].cues[index];
    const id = "repere-" + lang + "-" + index;
    const item = el("li", { "class": "cue", "data-index": String(index), "id": id });
    const head = el("p", { "class": "cue-head" });
    const play = el("button", { "type": "button", "class": "seek", "aria-label": "Lire le repère " + (index + 1) + " depuis " + stamp(cue.start) }, "▶ " + (index + 1));
    play.addEventListener("click", () => { setActive(lang, index); seek(state[lang].cues[index].start, true); });
    head.append(play, timeField(lang, index, "start", "Début"), timeField(lang, index, "end", "Fin"));
    const label = el("label", { "for": id + "-texte", "class": "visually-hidden" }, "Texte du repère " + (index + 1));
    const area = el("textarea", { "id": id + "-texte", "rows": "2", "spellcheck": "true", "lang": lang, "aria-describedby": id + "-avert" });
    area.value = cue.text;
    area.addEventListener("input", () => {
      if (byId("pause-saisie").checked && !video.paused) video.pause();  // typing stops the video
      state[lang].cues[index].text = area.value; edited(lang); refreshCue(lang, index);
    });
    area.addEventListener("focus", () => setActive(lang, index));
    const preview = el("p", { "class": "cue-preview" });
    preview.addEventListener("click", () => { setActive(lang, index); seek(state[lang].cues[index].start, false); });
    const warnings = el("ul", { "class": "cue-warnings", "id": id + "-avert", "aria-live": "polite" });
    item.append(head, label, area, preview, warnings);
    fillPreview(lang, index, preview);
    return item;
  }

  function timeField(lang, index, field, name) {
    const id = "repere-" + lang + "-" + index + "-" + field;
    const wrap = el("span", { "class": "time" });
    const input = el("input", { "id": id, "class": "time-input", "inputmode": "decimal", "size": "9",
                                "aria-label": name + " du repère " + (index + 1) });
    input.value = stamp(state[lang].cues[index][field]);
    input.addEventListener("focus", () => setActive(lang, index));
    input.addEventListener("change", () => {
      const value = parseStamp(input.value);
      input.setAttribute("aria-invalid", value === null ? "true" : "false");
      if (value === null) { say("Horodatage illisible" + NBSP + ": écrivez mm:ss,mmm (par exemple 01:02,500)."); return; }
      state[lang].cues[index][field] = value;
      reorder(lang);
      edited(lang);
    });
    wrap.append(el("label", { "for": id, "class": "time-label" }, name), input);
    return wrap;
  }

  function fillPreview(lang, index, preview) {
    const cue = state[lang].cues[index];
    const unsure = state[lang].low.filter((w) => w.start < cue.end && w.end > cue.start)
      .map((w) => w.word.trim().toLocaleLowerCase("fr").replace(/[.,;:!?«»"]/g, "")).filter(Boolean);
    preview.replaceChildren();
    if (!unsure.length) { preview.hidden = true; return; }
    preview.hidden = false;
    preview.append(el("span", { "class": "visually-hidden" }, "À vérifier" + NBSP + ": "));
    cue.text.split(/(\s+)/).forEach((part) => {
      const bare = part.toLocaleLowerCase("fr").replace(/[.,;:!?«»"]/g, "");
      if (bare && unsure.includes(bare)) {
        const mark = el("mark", { "class": "unsure", "title": "mot incertain pour la transcription automatique" }, part);
        preview.append(mark);
      } else preview.append(document.createTextNode(part));
    });
  }

  function refreshCue(lang, index) {
    refreshWarning(lang, index);
    if (index > 0) refreshWarning(lang, index - 1);
    const item = listOf(lang).children[index];
    if (item) fillPreview(lang, index, item.querySelector(".cue-preview"));
  }

  function refreshWarning(lang, index) {
    const cues = state[lang].cues, item = listOf(lang).children[index];
    if (!item || !cues[index]) return;
    const found = cueWarnings(lang, cues[index], cues[index + 1]);
    const box = item.querySelector(".cue-warnings");
    box.replaceChildren(...found.map((w) => el("li", {}, w)));
    item.classList.toggle("has-warning", found.length > 0);
  }

  function refreshWarnings(lang) { state[lang].cues.forEach((_, i) => refreshWarning(lang, i)); }

  function refreshSummary() {
    const parts = LANGS.filter((l) => state[l]).map((l) => (l === "fr" ? "français" : "anglais") + NBSP + ": " + (STATUS_LABELS[state[l].status] || state[l].status) + " (version " + state[l].version + ")");
    byId("etat-flux").textContent = parts.join(" · ");
    LANGS.filter((l) => state[l]).forEach((l) => {
      byId("etat-" + l).textContent = (STATUS_LABELS[state[l].status] || state[l].status) + " (version " + state[l].version + ")";
    });
    const s = state[active.lang] || state.fr;
    if (!s) return;
    byId("corrige").textContent = s.reviewedUntil == null ? "rien n’est encore marqué corrigé"
      : "corrigé jusqu’à " + mmss(s.reviewedUntil) + " (" + (active.lang === "fr" ? "français" : "anglais") + ")";
    showClaim(s.claimedBy);
    LANGS.filter((l) => state[l]).forEach((l) => Array.from(listOf(l).children).forEach((item, i) => {
      const cue = state[l].cues[i];
      item.classList.toggle("reviewed", cue && state[l].reviewedUntil != null && cue.end <= state[l].reviewedUntil);
    }));
  }

  function showClaim(holder) {
    byId("prise").textContent = holder ? (holder.id === userId ? "vous" : holder.name) : "personne";
    byId("prendre").hidden = Boolean(holder && holder.id === userId);
    byId("liberer").hidden = !holder;
  }

  // -- the playhead --------------------------------------------------------------------------

  function seek(time, play) {
    video.currentTime = time;
    if (play) video.play().catch(() => {});
  }

  // « Lecture en boucle du repère »: while on, the active cue plays again and again.
  let looping = false;

  function loopCue() {
    const cue = state[active.lang] && state[active.lang].cues[active.index];
    if (!looping || !cue) return;
    const now = video.currentTime;
    if (now >= cue.end || now < cue.start - 0.25) video.currentTime = cue.start;
    if (!video.paused) requestAnimationFrame(loopCue);
  }

  function toggleLoop() {
    looping = !looping;
    const button = byId("boucle");
    button.setAttribute("aria-pressed", String(looping));
    const cue = state[active.lang] && state[active.lang].cues[active.index];
    if (looping && cue) {
      say("Lecture en boucle du repère " + (active.index + 1) + ".");
      seek(cue.start, true);
    } else if (!looping) say("Lecture en boucle arrêtée.");
  }

  function highlight() {
    const now = video.currentTime || 0;
    byId("tete").textContent = stamp(now).slice(0, -2);
    LANGS.filter((l) => state[l]).forEach((lang) => {
      state[lang].cues.forEach((cue, i) => {
        const item = listOf(lang).children[i];
        if (!item) return;
        const current = cue.start <= now && now < cue.end;
        item.classList.toggle("current", current);
        if (current) item.setAttribute("aria-current", "true"); else item.removeAttribute("aria-current");
      });
    });
  }

  function setActive(lang, index) {
    const changed = active.lang !== lang;
    active = { lang, index };
    if (changed && state[lang]) { showOnVideo(lang); showRegions(); }
    LANGS.filter((l) => state[l]).forEach((l) => Array.from(listOf(l).children).forEach((item, i) => item.classList.toggle("active", l === lang && i === index)));
    if (changed) refreshSummary();
  }

  function focusCue(lang, index) {
    const item = listOf(lang).children[index];
    if (!item) return;
    setActive(lang, index);
    item.querySelector("textarea").focus();
  }

  // -- editing operations ----------------------------------------------------------------------

  function reorder(lang) {
    state[lang].cues.sort((a, b) => a.start - b.start);
    renderList(lang);
  }

  function restructure(lang, focusIndex) {
    renderList(lang);
    edited(lang);
    focusCue(lang, Math.max(0, Math.min(focusIndex, state[lang].cues.length - 1)));
  }

  function splitCue() {
    const { lang, index } = active, cues = state[lang].cues, cue = cues[index];
    const area = listOf(lang).children[index].querySelector("textarea");
    const at = area.selectionStart;
    const first = cue.text.slice(0, at).trim(), second = cue.text.slice(at).trim();
    if (!first || !second) { say("Placez le curseur dans le texte, entre deux mots, pour couper le repère."); return; }
    const now = video.currentTime;
    const inside = now > cue.start + 0.05 && now < cue.end - 0.05;
    const time = inside ? now : cue.start + (cue.end - cue.start) * first.length / (first.length + second.length);
    const cut = Math.round(time * 1000) / 1000;
    cues.splice(index, 1, { start: cue.start, end: cut, text: first }, { start: cut, end: cue.end, text: second });
    restructure(lang, index + 1);
    say("Repère " + (index + 1) + " coupé en deux.");
  }

  function mergeNext() {
    const { lang, index } = active, cues = state[lang].cues;
    if (index + 1 >= cues.length) { say("Pas de repère suivant à fusionner."); return; }
    const cue = cues[index], next = cues[index + 1];
    cues.splice(index, 2, { start: cue.start, end: Math.max(cue.end, next.end), text: cue.text.trim() + "\n" + next.text.trim() });
    restructure(lang, index);
    say("Repères " + (index + 1) + " et " + (index + 2) + " fusionnés.");
  }

  function insertAtPlayhead() {
    const lang = active.lang, cues = state[lang].cues;
    const start = Math.round((video.currentTime || 0) * 1000) / 1000;
    const next = cues.find((c) => c.start > start);
    const end = next ? Math.max(start + 0.5, Math.min(start + 2, next.start - 0.08)) : start + 2;
    cues.push({ start, end: Math.round(end * 1000) / 1000, text: "" });
    cues.sort((a, b) => a.start - b.start);
    const index = cues.findIndex((c) => c.start === start && c.text === "");
    restructure(lang, index);
    say("Repère inséré à " + stamp(start) + NBSP + ": saisissez son texte.");
  }

  function deleteCue() {
    const { lang, index } = active, cues = state[lang].cues;
    if (!cues[index]) return;
    cues.splice(index, 1);
    restructure(lang, index);
    say("Repère " + (index + 1) + " supprimé.");
  }

  function nudge(field, delta) {
    const { lang, index } = active, cue = state[lang].cues[index];
    if (!cue) return;
    const value = Math.round((cue[field] + delta) * 1000) / 1000;
    if (field === "start" && (value < 0 || value >= cue.end - 0.1)) return;
    if (field === "end" && value <= cue.start + 0.1) return;
    cue[field] = value;
    const input = byId("repere-" + lang + "-" + index + "-" + field);
    if (input) input.value = stamp(value);
    refreshCue(lang, index);
    refreshWarning(lang, index);
    edited(lang);
  }

  // -- saving --------------------------------------------------------------------------------

  function edited(lang) {
    const s = state[lang];
    showOnVideo(lang);
    s.dirty = true;
    s.revision = (s.revision || 0) + 1;
    say("Modifications non enregistrées…");
    clearTimeout(s.timer);
    s.timer = setTimeout(() => save(lang), SAVE_DELAY_MS);
  }

  function emptyCue(lang) { return state[lang].cues.findIndex((c) => !visible(c.text).trim()); }

  async function save(lang, extra) {
    const s = state[lang];
    clearTimeout(s.timer);
    if (conflict) return false;
    if (s.saving) { s.timer = setTimeout(() => save(lang, extra), 300); return false; }
    if (!s.dirty && !extra) return true;
    const empty = emptyCue(lang);
    if (empty >= 0) { say("Repère " + (empty + 1) + " vide" + NBSP + ": saisissez son texte pour enregistrer."); return false; }
    s.saving = true;
    const revision = s.revision;
    const body = Object.assign({ cues: s.cues.map((c) => ({ start: c.start, end: c.end, text: c.text })) }, extra || {});
    say("Enregistrement…");
    const result = await api("PUT", base + lang, body, { "If-Match": s.etag });
    s.saving = false;
    return saved(lang, result, revision);
  }

  function saved(lang, result, revision) {
    const s = state[lang], { ok, status, data, etag } = result;
    if (ok) {
      Object.assign(s, { etag, version: data.version, status: data.status, reviewedUntil: data.reviewed_until,
                         claimedBy: data.claimed_by, dirty: s.revision !== revision });
      say(s.dirty ? "Modifications non enregistrées…" : "Enregistré" + NBSP + ": version " + data.version + ", " + dateTime(data.created_at) + ".");
      refreshSummary();
      if (s.dirty) s.timer = setTimeout(() => save(lang), SAVE_DELAY_MS);
      return true;
    }
    if (status === 409 && data.current) { showConflict(lang, data); return false; }
    say((data.error || "Enregistrement impossible.") + (data.cue ? " (repère " + data.cue + ")" : ""));
    return false;
  }

  async function flush() {
    for (const lang of LANGS) if (state[lang] && state[lang].dirty && !(await save(lang))) return false;
    return true;
  }

  // -- the conflict dialog ---------------------------------------------------------------------

  function showConflict(lang, data) {
    conflict = { lang, data };
    const dialog = byId("conflit");
    byId("conflit-message").textContent = data.error;
    byId("conflit-leur").textContent = "Version " + data.current.version + " de " + data.current.author;
    const theirs = data.current.cues, yours = data.yours.cues;
    const rows = [];
    for (let i = 0; i < Math.max(theirs.length, yours.length); i++) rows.push(conflictRow(i, theirs[i], yours[i]));
    byId("conflit-reperes").replaceChildren(...rows);
    say("Conflit" + NBSP + ": " + data.current.author + " a enregistré entre-temps. Choisissez la version à garder.");
    if (typeof dialog.showModal === "function") dialog.showModal(); else dialog.setAttribute("open", "");
  }

  function cueText(cue) { return cue ? "[" + stamp(cue.start) + " → " + stamp(cue.end) + "] " + cue.text : "—"; }

  function conflictRow(i, theirs, yours) {
    const same = cueText(theirs) === cueText(yours);
    const row = el("tr", { "class": same ? "same" : "different" });
    row.append(el("th", { "scope": "row" }, String(i + 1)), el("td", {}, cueText(theirs)), el("td", {}, cueText(yours)));
    return row;
  }

  function closeConflict() {
    const dialog = byId("conflit");
    if (dialog.open && typeof dialog.close === "function") dialog.close(); else dialog.removeAttribute("open");
  }

  async function keepMine() {
    const { lang, data } = conflict;
    conflict = null;
    closeConflict();
    state[lang].etag = '"v' + data.current.version + '"';
    state[lang].dirty = true;
    await save(lang);
  }

  function takeTheirs() {
    const { lang, data } = conflict;
    conflict = null;
    closeConflict();
    const s = state[lang];
    s.cues = data.current.cues.map((c) => ({ start: c.start, end: c.end, text: c.text }));
    Object.assign(s, { etag: '"v' + data.current.version + '"', version: data.current.version, dirty: false });
    renderList(lang);
    say("Leur version " + data.current.version + " est reprise" + NBSP + ": vos modifications non enregistrées sont abandonnées.");
  }

  // -- workflow, claim, progress ---------------------------------------------------------------

  const DONE = { en_relecture: "Envoyés en relecture.", valide: "Validés.", publie: "Publication demandée." };

  // One language's captions along the workflow; the other language is left as it is.
  async function changeStatus(lang, wanted) {
    if (!(await flush())) return;
    const { ok, data } = await api("POST", base + lang + "/status", { status: wanted });
    const line = byId("message-" + lang);
    if (!ok) { line.textContent = data.error || "Changement refusé."; say(line.textContent); return; }
    state[lang].status = data.status;
    refreshSummary();
    line.textContent = data.message || DONE[wanted] || "C’est fait.";
    say((lang === "fr" ? "Français" : "Anglais") + NBSP + ": " + line.textContent);
  }

  async function claim(take) {
    for (const lang of LANGS) {
      const { ok, data } = await api(take ? "POST" : "DELETE", base + lang + "/claim");
      if (!ok) { say(data.error || "Action refusée."); return; }
      state[lang].claimedBy = data.claimed_by;
    }
    refreshSummary();
    say(take ? "Vous avez pris cette séance" + NBSP + ": les autres éditeurs le voient." : "Séance libérée.");
  }

  async function markReviewed() {
    const lang = active.lang, until = Math.round((video.currentTime || 0) * 10) / 10;
    if (await save(lang, { reviewed_until: until })) say("Corrigé jusqu’à " + mmss(until) + ".");
  }

  // -- history ---------------------------------------------------------------------------------

  async function showHistory() {
    const lang = active.lang;
    const { ok, data } = await api("GET", base + lang + "/history");
    if (!ok) { say(data.error || "Historique indisponible."); return; }
    const items = data.versions.slice().reverse().map((v) => historyItem(lang, v, data.current));
    byId("historique").replaceChildren(...items);
    byId("voir-historique").textContent = "Actualiser l’historique";
  }

  function historyItem(lang, v, current) {
    const item = el("li", { "class": "version" });
    const text = "Version " + v.version + " — " + v.author + ", " + dateTime(v.created_at) + " — " +
      v.cue_count + NBSP + "repères" + (v.note ? " — " + v.note : "") + (v.version === current ? " (actuelle)" : "");
    item.append(el("span", {}, text));
    if (v.version > 1) {
      const diff = el("button", { "type": "button", "class": "secondary" }, "Voir les différences");
      diff.addEventListener("click", () => showDiff(lang, v.version - 1, v.version));
      item.append(" ", diff);
    }
    if (v.version !== current) {
      const back = el("button", { "type": "button", "class": "secondary" }, "Revenir à cette version");
      back.addEventListener("click", () => revert(lang, v.version));
      item.append(" ", back);
    }
    return item;
  }

  const KINDS = { added: "Ajouté", removed: "Supprimé", changed: "Modifié" };

  async function showDiff(lang, from, to) {
    const { ok, data } = await api("GET", base + lang + "/diff?from=" + from + "&to=" + to);
    const box = byId("differences");
    if (!ok) { box.textContent = data.error || "Différences indisponibles."; return; }
    const heading = el("h3", {}, "Différences entre les versions " + data.from + " et " + data.to);
    const list = el("ol", { "class": "diff" });
    data.changes.forEach((c) => list.append(changeItem(c)));
    if (!data.changes.length) list.append(el("li", {}, "Aucune différence."));
    box.replaceChildren(heading, list);
  }

  function changeItem(change) {
    const item = el("li", { "class": "change " + change.kind });
    item.append(el("strong", {}, KINDS[change.kind] + ", repère " + change.index + NBSP + ": "));
    if (change.old) item.append(el("del", {}, cueText(change.old)));
    if (change.old && change.new) item.append(" → ");
    if (change.new) item.append(el("ins", {}, cueText(change.new)));
    return item;
  }

  async function revert(lang, version) {
    if (!(await flush())) return;
    const { ok, status, data, etag } = await api("POST", base + lang + "/revert", { version }, { "If-Match": state[lang].etag });
    if (!ok) { if (status === 409 && data.current) showConflict(lang, data); else say(data.error || "Retour refusé."); return; }
    adopt(lang, data, etag);
    renderList(lang);
    say("Version " + version + " rétablie" + NBSP + ": elle devient la version " + data.version + ".");
    showHistory();
  }

  // -- find and replace, glossary ----------------------------------------------------------------

  let preview = null;

  function replaceBody() {
    return { find: byId("chercher").value, replace: byId("remplacer-par").value, lang: byId("langue-remplacement").value,
             scope: byId("portee").value, recording_id: Number(root.dataset.recording), guid: root.dataset.guid,
             whole_word: byId("mot-entier").checked, case_sensitive: byId("casse").checked };
  }

  async function previewReplace(event) {
    event.preventDefault();
    if (!(await flush())) return;
    const body = replaceBody();
    const { ok, data } = await api("POST", "/api/events/" + encodeURIComponent(slug) + "/replace", body);
    const status = byId("apercu-etat");
    if (!ok) { status.textContent = data.error || "Aperçu impossible."; return; }
    preview = { body, sessions: data.sessions };
    const items = [];
    data.sessions.forEach((s) => s.changes.forEach((c) => {
      const item = changeItem(c);
      item.prepend(el("span", { "class": "session-name" }, s.title + " — "));
      items.push(item);
    }));
    byId("apercu").replaceChildren(...items);
    status.textContent = data.total ? data.total + NBSP + "remplacement" + (data.total > 1 ? "s" : "") + " proposé" + (data.total > 1 ? "s" : "") + ". Vérifiez-les, puis appliquez." : "Aucune occurrence trouvée.";
    byId("appliquer").hidden = !data.total;
  }

  async function applyReplace() {
    if (!preview) return;
    const versions = {};
    preview.sessions.forEach((s) => { versions[s.session] = s.version; });
    const body = Object.assign({}, preview.body, { apply: true, versions });
    const { ok, data } = await api("POST", "/api/events/" + encodeURIComponent(slug) + "/replace", body);
    const status = byId("apercu-etat");
    byId("appliquer").hidden = true;
    preview = null;
    if (!ok) { status.textContent = data.error || "Remplacement refusé."; return; }
    status.textContent = data.total + NBSP + "remplacement" + (data.total > 1 ? "s" : "") + " appliqué" + (data.total > 1 ? "s" : "") + ".";
    await load(body.lang);
  }

  let glossary = [];

  async function loadGlossary() {
    const { ok, data } = await api("GET", "/api/events/" + encodeURIComponent(slug) + "/glossary");
    if (ok) { glossary = data.terms; renderGlossary(); }
  }

  function renderGlossary() {
    byId("glossaire-liste").replaceChildren(...glossary.map((t) => el("option", { "value": t })));
    byId("glossaire").replaceChildren(...glossary.map((term) => {
      const button = el("button", { "type": "button", "class": "secondary" }, term);
      button.addEventListener("click", () => { byId("remplacer-par").value = term; byId("chercher").focus(); });
      const item = el("li");
      item.append(button);
      return item;
    }));
    if (!glossary.length) byId("glossaire").append(el("li", {}, "Le glossaire est vide."));
  }

  async function addTerm() {
    const input = byId("nouveau-terme"), term = input.value.trim();
    if (!term) return;
    const { ok, data } = await api("PUT", "/api/events/" + encodeURIComponent(slug) + "/glossary", { terms: glossary.concat([term]) });
    if (!ok) { say(data.error || "Glossaire non modifié."); return; }
    glossary = data.terms;
    input.value = "";
    renderGlossary();
  }

  // -- import ------------------------------------------------------------------------------------

  async function importFile(event) {
    event.preventDefault();
    if (!(await flush())) return;
    const lang = byId("langue-import").value, file = byId("fichier-import").files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file, file.name);
    const { ok, status, data, etag } = await api("POST", base + lang + "/import", form, { "If-Match": state[lang].etag });
    const line = byId("import-etat");
    if (!ok) { if (status === 409 && data.current) showConflict(lang, data); line.textContent = data.error || "Import refusé."; return; }
    adopt(lang, data, etag);
    renderList(lang);
    line.textContent = "Importé" + NBSP + ": version " + data.version + ".";
  }

  // -- keyboard ----------------------------------------------------------------------------------

  function shortcut(event) {
    if (conflict) return null;
    if (event.ctrlKey && !event.altKey && event.code === "Space") return () => (video.paused ? video.play().catch(() => {}) : video.pause());
    if (event.ctrlKey && !event.altKey && event.code === "KeyS") return () => flush();
    if (!event.altKey || event.ctrlKey) return null;
    const shift = event.shiftKey;
    const table = {
      ArrowDown: () => moveTo(1), ArrowUp: () => moveTo(-1),
      ArrowLeft: () => nudge(shift ? "end" : "start", -NUDGE), ArrowRight: () => nudge(shift ? "end" : "start", NUDGE),
      KeyS: splitCue, KeyM: mergeNext, KeyI: insertAtPlayhead, KeyR: markReviewed,
      Delete: deleteCue,
    };
    return table[event.key in table ? event.key : event.code] || null;
  }

  function moveTo(step) {
    const { lang, index } = active, next = index + step;
    if (next < 0 || next >= state[lang].cues.length) return;
    focusCue(lang, next);
    seek(state[lang].cues[next].start, false);
  }

  document.addEventListener("keydown", (event) => {
    const action = shortcut(event);
    if (!action) return;
    event.preventDefault();
    action();
  });

  // -- wiring ------------------------------------------------------------------------------------

  function showLanguages(choice) {
    byId("langue-fr").hidden = choice === "en";
    byId("langue-en").hidden = choice === "fr";
    byId("listes").classList.toggle("both", choice === "both");
    alignRows();
    if (choice !== "both") setActive(choice, 0);
  }

  // French and English side by side: one row per time span (cues of either language that
  // overlap share a span), each language in its column, so a translator reads the French
  // beside each English cue. Placed by the CSS grid of ".cue-lists.both".
  function timeSpans() {
    const all = [];
    LANGS.forEach((lang) => state[lang].cues.forEach((c, i) => all.push({ lang, i, start: c.start, end: c.end })));
    all.sort((a, b) => a.start - b.start || (a.lang === "fr" ? -1 : 1));
    const spans = [];
    let current = null;
    all.forEach((cue) => {
      if (current && cue.start < current.end - 0.05) {
        current.cues.push(cue);
        current.end = Math.max(current.end, cue.end);
      } else {
        current = { end: cue.end, cues: [cue] };
        spans.push(current);
      }
    });
    return spans;
  }

  function alignRows() {
    LANGS.filter((l) => state[l]).forEach((l) => Array.from(listOf(l).children).forEach((item) => {
      item.style.gridRow = "";
      item.style.gridColumn = "";
    }));
    if (!byId("listes").classList.contains("both") || !LANGS.every((l) => state[l])) return;
    let row = 2;  // row 1: the two headings
    timeSpans().forEach((span) => {
      const byLang = { fr: span.cues.filter((c) => c.lang === "fr"), en: span.cues.filter((c) => c.lang === "en") };
      const height = Math.max(byLang.fr.length, byLang.en.length);
      LANGS.forEach((lang, column) => byLang[lang].forEach((cue, k) => {
        const item = listOf(lang).children[cue.i];
        const last = k === byLang[lang].length - 1;
        item.style.gridColumn = String(column + 1);
        item.style.gridRow = (row + k) + " / span " + (last ? height - k : 1);
      }));
      row += height;
    });
  }

  document.querySelectorAll('input[name="affichage"]').forEach((r) => r.addEventListener("change", () => showLanguages(r.value)));
  document.querySelectorAll("button[data-status]").forEach((b) => b.addEventListener("click", () => changeStatus(b.dataset.lang, b.dataset.status)));
  byId("prendre").addEventListener("click", () => claim(true));
  byId("liberer").addEventListener("click", () => claim(false));
  byId("marquer-corrige").addEventListener("click", markReviewed);
  byId("voir-historique").addEventListener("click", showHistory);
  byId("remplacer").addEventListener("submit", previewReplace);
  byId("appliquer").addEventListener("click", applyReplace);
  byId("ajouter-terme").addEventListener("click", addTerm);
  byId("importer").addEventListener("submit", importFile);
  byId("garder").addEventListener("click", keepMine);
  byId("prendre-leur").addEventListener("click", takeTheirs);
  byId("conflit").addEventListener("cancel", (event) => event.preventDefault());
  video.addEventListener("timeupdate", highlight);
  video.addEventListener("play", () => { if (looping) requestAnimationFrame(loopCue); });
  byId("boucle").addEventListener("click", toggleLoop);
  video.addEventListener("seeked", highlight);
  window.addEventListener("beforeunload", (event) => {
    if (LANGS.some((l) => state[l] && state[l].dirty)) { flush(); event.preventDefault(); event.returnValue = ""; }
  });

  (async function start() {
    const [loaded] = await Promise.all([Promise.all(LANGS.map(load)), loadRules()]);
    LANGS.forEach((l) => { if (state[l] && state[l].cues) refreshWarnings(l); });
    if (loaded.every(Boolean)) say("Sous-titres chargés" + NBSP + ": version " + state.fr.version + " en français, " + state.en.version + " en anglais.");
    root.dataset.ready = "oui";
    loadGlossary();
    startWaveform();
  })();
})();

// Chapters: a title at the playhead, kept per session (/api/chapters/{id}/{guid}); each
// entry seeks the video there and can be removed. Every change is saved at once.
(function () {
  const NBSP = "\u00a0";
  const root = document.getElementById("editeur");
  const form = document.getElementById("chapitre-form");
  if (!root || !form) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const url = "/api/chapters/" + root.dataset.recording + "/" + encodeURIComponent(root.dataset.guid);
  const video = document.getElementById("video");
  const title = document.getElementById("chapitre-titre");
  const list = document.getElementById("liste-chapitres");
  const status = document.getElementById("chapitres-etat");
  let chapters = [];

  function clock(value) {
    const total = Math.floor(value), h = Math.floor(total / 3600);
    const m = String(Math.floor(total / 60) % 60).padStart(2, "0"), s = String(total % 60).padStart(2, "0");
    return h ? h + ":" + m + ":" + s : m + ":" + s;
  }

  function render() {
    list.textContent = "";
    chapters.forEach((chapter, index) => {
      const item = document.createElement("li");
      const seek = document.createElement("button");
      seek.type = "button";
      seek.className = "chapter-seek";
      seek.textContent = clock(chapter.start) + " " + chapter.title;
      seek.addEventListener("click", () => { video.currentTime = chapter.start; });
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "chapter-remove";
      remove.textContent = "Supprimer";
      remove.setAttribute("aria-label", "Supprimer le chapitre " + chapter.title);
      remove.addEventListener("click", () => save(chapters.filter((_, i) => i !== index)));
      item.append(seek, " ", remove);
      list.appendChild(item);
    });
  }

  async function request(method, body) {
    const init = { method, credentials: "same-origin",
                   headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } };
    if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    try {
      const response = await fetch(url, init);
      const data = await response.json().catch(() => ({}));
      return { ok: response.ok, data };
    } catch (error) {
      return { ok: false, data: { error: "Réseau indisponible" + NBSP + ": les chapitres ne sont pas enregistrés." } };
    }
  }

  async function save(next) {
    status.textContent = "Enregistrement des chapitres…";
    const result = await request("PUT", { chapters: next });
    if (!result.ok) { status.textContent = result.data.error || "Les chapitres n’ont pas pu être enregistrés."; return false; }
    chapters = result.data.chapters;
    render();
    status.textContent = chapters.length + (chapters.length > 1 ? " chapitres enregistrés." : " chapitre enregistré.");
    return true;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const start = Math.round(video.currentTime * 1000) / 1000;
    if (await save(chapters.concat([{ start, title: title.value }]))) title.value = "";
  });

  (async function start() {
    const result = await request("GET");
    if (result.ok) { chapters = result.data.chapters; render(); }
    else status.textContent = result.data.error || "Les chapitres n’ont pas pu être chargés.";
    root.dataset.chapters = "oui";
  })();
})();
